// Loads a Hub-layout checkpoint of any supported architecture (config.json + safetensors,
// optionally sharded, + tokenizer files + a sentence-transformers folder's modules) from any
// source: a URL folder, files picked in the browser, memory, or (src/node) a local folder.

import { CheckpointError } from './errors';
import { architectureFor } from './models/index';
import type { Architecture, EncoderConfig } from './models/types';
import { downloadToCache, readStoredFile, storedFileReader } from './download';
import { memoryRangeReader, openSafetensors, parseSafetensors, type RangeReader, type SafetensorsFile } from './safetensors';
import { readSentenceTransformers, type SentenceTransformersConfig } from './sentence-transformers';
import type { TensorLookup } from './tensor-table';

export interface Progress {
  /** File name inside the checkpoint folder, e.g. "model.safetensors". */
  file: string;
  loaded: number;
  /** Bytes expected, when known. */
  total: number | null;
  /** True when the bytes come from the browser's Cache Storage, not the network. */
  cached?: boolean;
  /** Set when an interrupted download resumed: the byte it resumed from (the rest came from Cache Storage). */
  resumedFrom?: number;
}

export type ProgressFn = (progress: Progress) => void;

/** Marks a Cache Storage entry that records a 404 (a file the repository does not have). */
const MISSING_HEADER = 'x-neobert-missing';
/** Files downloaded in resumable chunks (the weights); the small JSON/text files are stored whole. */
const RESUMABLE = /\.safetensors$/;

/** Cache Storage bucket used for downloaded checkpoint files (browser and workers). */
export const DEFAULT_CACHE_NAME = 'neobert-webgpu-v1';

export interface CheckpointSource {
  /** Where the files come from (URL, folder, ...), used in messages. */
  label: string;
  /** null when the file does not exist. */
  readText(name: string): Promise<string | null>;
  /** null when the file does not exist. */
  readBytes(name: string, onProgress?: ProgressFn): Promise<Uint8Array | null>;
  /**
   * Optional: the file as a synchronous byte-range reader (a Node file descriptor, a Blob in a
   * worker), so weights are read, converted and uploaded tensor by tensor instead of the whole file
   * being held in memory. null when the file does not exist.
   */
  openFile?(name: string, onProgress?: ProgressFn): Promise<RangeReader | null>;
}

/** The text of every tokenizer file the folder has (null when absent). */
export interface TokenizerFiles {
  tokenizerJson: string | null;
  vocabTxt: string | null;
  vocabJson: string | null;
  mergesTxt: string | null;
  tokenizerConfig: string | null;
  specialTokensMap: string | null;
  /** spm.model (SentencePiece, DeBERTa-v3), read only when the folder has none of the text vocabularies. */
  spmModel?: Uint8Array | null;
  /** added_tokens.json beside spm.model. */
  addedTokensJson?: string | null;
}

export const TOKENIZER_FILE_NAMES: Record<Exclude<keyof TokenizerFiles, 'spmModel' | 'addedTokensJson'>, string> = {
  tokenizerJson: 'tokenizer.json',
  vocabTxt: 'vocab.txt',
  vocabJson: 'vocab.json',
  mergesTxt: 'merges.txt',
  tokenizerConfig: 'tokenizer_config.json',
  specialTokensMap: 'special_tokens_map.json',
};

/**
 * Reads the tokenizer files the source has, asking only for what is needed (each miss is a round
 * trip over HTTP): tokenizer.json, else vocab.txt, else vocab.json + merges.txt, else spm.model; the
 * tokenizer_config.json always, and special_tokens_map.json when there is no tokenizer.json.
 */
export async function readTokenizerFiles(source: CheckpointSource): Promise<TokenizerFiles> {
  const read = (key: keyof typeof TOKENIZER_FILE_NAMES) => source.readText(TOKENIZER_FILE_NAMES[key]);
  const [tokenizerJson, tokenizerConfig] = await Promise.all([read('tokenizerJson'), read('tokenizerConfig')]);
  const files: TokenizerFiles = { tokenizerJson, vocabTxt: null, vocabJson: null, mergesTxt: null, tokenizerConfig, specialTokensMap: null };
  if (tokenizerJson !== null) return files;
  [files.vocabTxt, files.specialTokensMap] = await Promise.all([read('vocabTxt'), read('specialTokensMap')]);
  if (files.vocabTxt === null) [files.vocabJson, files.mergesTxt] = await Promise.all([read('vocabJson'), read('mergesTxt')]);
  if (files.vocabTxt === null && (files.vocabJson === null || files.mergesTxt === null)) {
    [files.spmModel, files.addedTokensJson] = await Promise.all([source.readBytes('spm.model'), source.readText('added_tokens.json')]);
  }
  return files;
}

/** C and W narrow the config and weights when the caller knows the architecture (tests, bench). */
export interface LoadedCheckpoint<C extends EncoderConfig = EncoderConfig, W = unknown> {
  architecture: Architecture<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  config: C;
  /** The architecture's host weights (see its loadWeights). */
  weights: W;
  tokenizerFiles: TokenizerFiles;
  /** modules.json & co. when the folder is a sentence-transformers model, else null. */
  sentenceTransformers: SentenceTransformersConfig | null;
  /** Tensors per stored dtype, e.g. { F16: 26 }. */
  dtypes: Record<string, number>;
  parameterCount: number;
  label: string;
  /**
   * Closes the weight files. The weights are read lazily, tensor by tensor, as the model uploads
   * them (so a checkpoint is never held whole): close only after createModel.
   */
  close(): void;
}

const CONFIG_FILE = 'config.json';
const SINGLE_WEIGHTS_FILE = 'model.safetensors';
const SHARD_INDEX_FILE = 'model.safetensors.index.json';

function httpFailure(url: string, response: Response): CheckpointError {
  const hint = response.status === 401 || response.status === 403 ? ' (the repository may be gated or private)' : '';
  return new CheckpointError(`${url}: HTTP ${response.status} ${response.statusText}${hint}`.trimEnd());
}

/** Reads the body chunk by chunk so progress can be reported and a known size is allocated once. */
async function readBody(response: Response, file: string, url: string, onProgress?: ProgressFn, cached = false): Promise<Uint8Array> {
  const lengthHeader = response.headers.get('content-length') ?? '';
  const encoding = response.headers.get('content-encoding') ?? 'identity';
  // With a content-encoding, content-length counts compressed bytes, not the bytes we receive.
  const knownTotal = /^\d+$/.test(lengthHeader) && encoding === 'identity' ? Number(lengthHeader) : null;
  const report = (loaded: number) => onProgress?.(cached ? { file, loaded, total: knownTotal, cached } : { file, loaded, total: knownTotal });
  report(0);
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    report(bytes.byteLength);
    return bytes;
  }

  const reader = response.body.getReader();
  const preallocated = knownTotal !== null ? new Uint8Array(knownTotal) : null;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw new CheckpointError(`${url}: download failed after ${loaded} bytes (${(error as Error).message})`);
    }
    const { done, value } = chunk;
    if (done) break;
    if (preallocated) {
      if (loaded + value.byteLength > preallocated.byteLength) {
        await reader.cancel();
        throw new CheckpointError(`${url}: received more than the ${knownTotal} bytes announced by content-length`);
      }
      preallocated.set(value, loaded);
    } else {
      chunks.push(value);
    }
    loaded += value.byteLength;
    report(loaded);
  }
  if (preallocated) {
    if (loaded !== preallocated.byteLength) {
      throw new CheckpointError(`${url}: download truncated, received ${loaded} of ${knownTotal} bytes`);
    }
    return preallocated;
  }
  const joined = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}

export interface UrlSourceOptions {
  /** fetch to use (tests, custom headers); default globalThis.fetch. */
  fetch?: typeof fetch;
  /**
   * Keep downloaded files in Cache Storage under this bucket name, keyed by URL, so a later
   * visit reads them from disk. Default: DEFAULT_CACHE_NAME where Cache Storage exists (browser
   * pages and workers on https or localhost), off elsewhere (Node). false turns it off.
   */
  cache?: string | false;
}

/** Cache Storage when this runtime has it (secure browser contexts), else null. */
async function openCache(name: string | false | undefined): Promise<Cache | null> {
  if (name === false) return null;
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) return null;
  try {
    return await storage.open(name ?? DEFAULT_CACHE_NAME);
  } catch {
    return null; // e.g. storage disabled: download every time
  }
}

/** A Hub-style folder URL, e.g. https://huggingface.co/chandar-lab/NeoBERT/resolve/main/ */
export function urlSource(baseUrl: string, options: UrlSourceOptions | typeof fetch = {}): CheckpointSource {
  const { fetch: fetchImpl = globalThis.fetch.bind(globalThis), cache: cacheName } = typeof options === 'function' ? { fetch: options } : options;
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  let cachePromise: Promise<Cache | null> | null = null;
  const cache = () => (cachePromise ??= openCache(cacheName));

  const request = async (name: string): Promise<{ url: string; response: Response | null; cached: boolean }> => {
    const url = base + name;
    const c = await cache();
    const hit = await c?.match(url).catch(() => undefined);
    if (hit?.headers.get(MISSING_HEADER)) return { url, response: null, cached: true };
    if (hit) return { url, response: hit, cached: true };
    let response: Response;
    try {
      response = await fetchImpl(url);
    } catch (error) {
      throw new CheckpointError(`${url}: request failed (${(error as Error).message})`);
    }
    if (response.status === 404) {
      // Remembered, so a second visit does not ask again for files the repository lacks.
      await c?.put(url, new Response('', { headers: { [MISSING_HEADER]: '1' } })).catch(() => undefined);
      return { url, response: null, cached: false };
    }
    if (!response.ok) throw httpFailure(url, response);
    return { url, response, cached: false };
  };
  /** Stores a complete, checked download; a full disk or a private window only costs the cache. */
  const store = async (url: string, bytes: Uint8Array, contentType: string | null) => {
    const c = await cache();
    if (!c) return;
    const headers: Record<string, string> = { 'content-length': String(bytes.byteLength) };
    if (contentType) headers['content-type'] = contentType;
    await c.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers })).catch(() => undefined);
  };
  /** Weights go to Cache Storage in chunks as they arrive, so an interrupted download resumes. */
  const stored = async (name: string, onProgress?: ProgressFn) => {
    const c = await cache();
    return c && RESUMABLE.test(name) ? { c, file: await downloadToCache(c, base + name, name, fetchImpl, onProgress) } : null;
  };
  const readBytes: CheckpointSource['readBytes'] = async (name, onProgress) => {
    const chunked = await stored(name, onProgress);
    if (chunked) return chunked.file && readStoredFile(chunked.c, chunked.file);
    const { url, response, cached } = await request(name);
    if (!response) return null;
    let bytes: Uint8Array;
    try {
      bytes = await readBody(response, name, url, onProgress, cached);
    } catch (error) {
      // A cached entry that no longer reads back whole is dropped, so the next try downloads.
      if (cached) await (await cache())?.delete(url).catch(() => undefined);
      throw error;
    }
    if (!cached) await store(url, bytes, response.headers.get('content-type'));
    return bytes;
  };
  return {
    label: base,
    readBytes,
    async readText(name) {
      const bytes = await readBytes(name);
      return bytes && new TextDecoder().decode(bytes);
    },
    // In a worker the stored chunks are read as Blobs, tensor by tensor (FileReaderSync).
    ...(typeof (globalThis as { FileReaderSync?: unknown }).FileReaderSync === 'function'
      ? {
          async openFile(name: string, onProgress?: ProgressFn) {
            const chunked = await stored(name, onProgress);
            let reader: RangeReader | null;
            if (chunked) reader = chunked.file && ((await storedFileReader(chunked.c, chunked.file)) ?? memoryRangeReader(await readStoredFile(chunked.c, chunked.file)));
            else {
              const bytes = await readBytes(name, onProgress);
              reader = bytes && memoryRangeReader(bytes);
            }
            return reader && { ...reader, downloaded: true };
          },
        }
      : {}),
  };
}

/** Deletes the Cache Storage bucket that urlSource fills (every cached checkpoint file). */
export async function clearModelCache(name: string = DEFAULT_CACHE_NAME): Promise<boolean> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  return storage ? storage.delete(name) : false;
}

/** Anything with a name and arrayBuffer(), e.g. the File objects of an <input type=file>. */
export interface NamedBlob {
  name: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Files picked in the browser (a folder picker gives every file; they are matched by base name). */
export function filesSource(files: Iterable<NamedBlob>): CheckpointSource {
  const byName = new Map<string, NamedBlob>();
  for (const file of files) {
    if (byName.has(file.name)) throw new CheckpointError(`selected files: two files are named ${file.name}`);
    byName.set(file.name, file);
  }
  const readFile = async (name: string): Promise<Uint8Array | null> => {
    const file = byName.get(name);
    if (!file) return null;
    try {
      return new Uint8Array(await file.arrayBuffer());
    } catch (error) {
      throw new CheckpointError(`selected files/${name}: could not be read (${(error as Error).message})`);
    }
  };
  return {
    label: 'selected files',
    async readText(name) {
      const bytes = await readFile(name);
      return bytes && new TextDecoder().decode(bytes);
    },
    async readBytes(name, onProgress) {
      const bytes = await readFile(name);
      if (bytes) onProgress?.({ file: name, loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    },
  };
}

export function memorySource(files: Record<string, Uint8Array | string>, label: string): CheckpointSource {
  const contents = new Map(Object.entries(files));
  return {
    label,
    async readText(name) {
      const content = contents.get(name);
      if (content === undefined) return null;
      return typeof content === 'string' ? content : new TextDecoder().decode(content);
    },
    async readBytes(name, onProgress) {
      const content = contents.get(name);
      if (content === undefined) return null;
      const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
      onProgress?.({ file: name, loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    },
  };
}

/** "<label>/<file>", the way messages name a file of a source. */
export function pathIn(source: CheckpointSource, file: string): string {
  return source.label.endsWith('/') ? source.label + file : `${source.label}/${file}`;
}

export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${where}: not valid JSON (${(error as Error).message})`);
  }
}

/** One lookup over any number of files, given which file holds each tensor. */
function lookupOver(fileByTensor: ReadonlyMap<string, SafetensorsFile>, label: string): TensorLookup {
  const fileOf = (name: string): SafetensorsFile => {
    const file = fileByTensor.get(name);
    if (!file) throw new CheckpointError(`${label}: tensor ${name} is missing`);
    return file;
  };
  return {
    label,
    has: (name) => fileByTensor.has(name),
    shapeOf: (name) => fileOf(name).entry(name).shape,
    dtypeOf: (name) => fileOf(name).entry(name).dtype,
    fileOf: (name) => fileOf(name).fileName,
    toFloat32: (name) => fileOf(name).toFloat32(name),
    close: () => new Set(fileByTensor.values()).forEach((file) => file.close()),
  };
}

async function loadShards(source: CheckpointSource, indexText: string, onProgress?: ProgressFn): Promise<TensorLookup> {
  const where = pathIn(source, SHARD_INDEX_FILE);
  const index = parseJson(indexText, where);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new CheckpointError(`${where}: weight_map is missing or not a JSON object`);
  }
  const entries = Object.entries(weightMap);
  for (const [tensor, shard] of entries) {
    if (typeof shard !== 'string') {
      throw new CheckpointError(`${where}: weight_map entry for ${tensor} is ${JSON.stringify(shard)}, expected a file name`);
    }
  }
  const shardNames = [...new Set(entries.map(([, shard]) => shard as string))];
  const shards = new Map(
    await Promise.all(
      shardNames.map(async (shardName) => {
        const shard = await openWeightsFile(source, shardName, onProgress);
        if (!shard) throw new CheckpointError(`${where}: lists shard ${shardName}, which is missing`);
        return [shardName, shard] as const;
      }),
    ),
  );
  const fileByTensor = new Map<string, SafetensorsFile>();
  for (const [tensor, shardName] of entries) {
    const shard = shards.get(shardName as string)!;
    if (!shard.has(tensor)) throw new CheckpointError(`${where}: maps tensor ${tensor} to ${shardName}, which has no such tensor`);
    fileByTensor.set(tensor, shard);
  }
  return lookupOver(fileByTensor, shardNames.map((shardName) => pathIn(source, shardName)).join(', '));
}

/** A reader that reports the bytes read so far as the file's progress. */
function withProgress(reader: RangeReader, file: string, onProgress?: ProgressFn): RangeReader {
  if (!onProgress) return reader;
  let loaded = 0;
  onProgress({ file, loaded: 0, total: reader.size });
  return {
    size: reader.size,
    close() {
      reader.close?.();
      // Tensors no architecture reads (e.g. an unused NSP head) are never read: the file is done.
      if (loaded < reader.size) onProgress({ file, loaded: (loaded = reader.size), total: reader.size });
    },
    readSync(offset, length) {
      const bytes = reader.readSync(offset, length);
      loaded = Math.min(reader.size, loaded + bytes.byteLength);
      onProgress({ file, loaded, total: reader.size });
      return bytes;
    },
  };
}

/**
 * One safetensors file of the source: opened for range reads when the source can (tensors are
 * then read only as they are uploaded), else read whole.
 */
async function openWeightsFile(source: CheckpointSource, name: string, onProgress?: ProgressFn): Promise<SafetensorsFile | null> {
  const where = pathIn(source, name);
  if (source.openFile) {
    const reader = await source.openFile(name, onProgress);
    if (!reader) return null;
    try {
      // A download already reported its progress; a local file reports the bytes read as used.
      return openSafetensors(reader.downloaded ? reader : withProgress(reader, name, onProgress), where);
    } catch (error) {
      reader.close?.();
      throw error;
    }
  }
  const bytes = await source.readBytes(name, onProgress);
  return bytes && parseSafetensors(bytes, where);
}

async function loadTensors(source: CheckpointSource, onProgress?: ProgressFn): Promise<TensorLookup> {
  // Single file first, as transformers does; a shard index is the fallback.
  const file = await openWeightsFile(source, SINGLE_WEIGHTS_FILE, onProgress);
  if (file) return lookupOver(new Map(file.names().map((name) => [name, file])), file.fileName);
  const indexText = await source.readText(SHARD_INDEX_FILE);
  if (indexText !== null) return loadShards(source, indexText, onProgress);
  throw new CheckpointError(
    `${source.label}: neither ${SINGLE_WEIGHTS_FILE} nor ${SHARD_INDEX_FILE} found (only safetensors checkpoints are supported)`,
  );
}

export async function loadCheckpoint<C extends EncoderConfig = EncoderConfig, W = unknown>(
  source: CheckpointSource,
  options: { onProgress?: ProgressFn } = {},
): Promise<LoadedCheckpoint<C, W>> {
  // The config is read and checked first so a bad folder fails before a large download.
  const configText = await source.readText(CONFIG_FILE);
  const configWhere = pathIn(source, CONFIG_FILE);
  if (configText === null) throw new CheckpointError(`${configWhere}: not found (a checkpoint needs its config.json)`);
  const configJson = parseJson(configText, configWhere);
  const architecture = architectureFor(configJson, configWhere);
  const config = architecture.parseConfig(configJson as Record<string, unknown>, configWhere);
  const sentenceTransformers = await readSentenceTransformers(source, (file) => pathIn(source, file));

  const lookup = await loadTensors(source, options.onProgress);
  const { weights, dtypes, parameterCount } = architecture.loadWeights(config, lookup);
  return {
    architecture,
    config: config as C,
    weights: weights as W,
    tokenizerFiles: await readTokenizerFiles(source),
    sentenceTransformers,
    dtypes,
    parameterCount,
    label: source.label,
    close: () => lookup.close?.(),
  };
}
