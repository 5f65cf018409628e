// Loads a Hub-layout NeoBERT checkpoint (config.json + safetensors, optionally sharded) from any
// source: a URL folder, files picked in the browser, memory, or (src/node) a local folder.

import { parseConfig, type NeoBERTConfig } from './config';
import { CheckpointError } from './errors';
import { parseSafetensors, type SafetensorsFile } from './safetensors';
import { buildWeights, parameterCount, summarizeDtypes, type NeoBERTWeights, type TensorLookup } from './weights';

export type ProgressFn = (progress: { file: string; loaded: number; total: number | null }) => void;

export interface CheckpointSource {
  /** Where the files come from (URL, folder, ...), used in messages. */
  label: string;
  /** null when the file does not exist. */
  readText(name: string): Promise<string | null>;
  /** null when the file does not exist. */
  readBytes(name: string, onProgress?: ProgressFn): Promise<Uint8Array | null>;
}

export interface LoadedCheckpoint {
  config: NeoBERTConfig;
  weights: NeoBERTWeights;
  tokenizerFiles: { vocabTxt: string | null; tokenizerJson: string | null };
  /** Tensors per stored dtype, e.g. { F16: 26 }. */
  dtypes: Record<string, number>;
  parameterCount: number;
  label: string;
}

const CONFIG_FILE = 'config.json';
const SINGLE_WEIGHTS_FILE = 'model.safetensors';
const SHARD_INDEX_FILE = 'model.safetensors.index.json';

function httpFailure(url: string, response: Response): CheckpointError {
  const hint = response.status === 401 || response.status === 403 ? ' (the repository may be gated or private)' : '';
  return new CheckpointError(`${url}: HTTP ${response.status} ${response.statusText}${hint}`.trimEnd());
}

/** Reads the body chunk by chunk so progress can be reported and a known size is allocated once. */
async function readBody(response: Response, file: string, url: string, onProgress?: ProgressFn): Promise<Uint8Array> {
  const lengthHeader = response.headers.get('content-length') ?? '';
  const encoding = response.headers.get('content-encoding') ?? 'identity';
  // With a content-encoding, content-length counts compressed bytes, not the bytes we receive.
  const knownTotal = /^\d+$/.test(lengthHeader) && encoding === 'identity' ? Number(lengthHeader) : null;
  onProgress?.({ file, loaded: 0, total: knownTotal });
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ file, loaded: bytes.byteLength, total: knownTotal });
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
    onProgress?.({ file, loaded, total: knownTotal });
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

/** A Hub-style folder URL, e.g. https://huggingface.co/chandar-lab/NeoBERT/resolve/main/ */
export function urlSource(baseUrl: string, fetchImpl: typeof fetch = fetch): CheckpointSource {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const request = async (name: string): Promise<{ url: string; response: Response | null }> => {
    const url = base + name;
    let response: Response;
    try {
      response = await fetchImpl(url);
    } catch (error) {
      throw new CheckpointError(`${url}: request failed (${(error as Error).message})`);
    }
    if (response.status === 404) return { url, response: null };
    if (!response.ok) throw httpFailure(url, response);
    return { url, response };
  };
  return {
    label: base,
    async readText(name) {
      const { url, response } = await request(name);
      if (!response) return null;
      try {
        return await response.text();
      } catch (error) {
        throw new CheckpointError(`${url}: download failed (${(error as Error).message})`);
      }
    },
    async readBytes(name, onProgress) {
      const { url, response } = await request(name);
      return response ? readBody(response, name, url, onProgress) : null;
    },
  };
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
function pathIn(source: CheckpointSource, file: string): string {
  return source.label.endsWith('/') ? source.label + file : `${source.label}/${file}`;
}

function parseJson(text: string, where: string): unknown {
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
        const bytes = await source.readBytes(shardName, onProgress);
        if (!bytes) throw new CheckpointError(`${where}: lists shard ${shardName}, which is missing`);
        return [shardName, parseSafetensors(bytes, pathIn(source, shardName))] as const;
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

async function loadTensors(source: CheckpointSource, onProgress?: ProgressFn): Promise<TensorLookup> {
  // Single file first, as transformers does; a shard index is the fallback.
  const single = await source.readBytes(SINGLE_WEIGHTS_FILE, onProgress);
  if (single) {
    const file = parseSafetensors(single, pathIn(source, SINGLE_WEIGHTS_FILE));
    return lookupOver(new Map(file.names().map((name) => [name, file])), file.fileName);
  }
  const indexText = await source.readText(SHARD_INDEX_FILE);
  if (indexText !== null) return loadShards(source, indexText, onProgress);
  throw new CheckpointError(
    `${source.label}: neither ${SINGLE_WEIGHTS_FILE} nor ${SHARD_INDEX_FILE} found (only safetensors checkpoints are supported)`,
  );
}

export async function loadCheckpoint(
  source: CheckpointSource,
  options: { onProgress?: ProgressFn } = {},
): Promise<LoadedCheckpoint> {
  // The config is read and checked first so a bad folder fails before a large download.
  const configText = await source.readText(CONFIG_FILE);
  const configWhere = pathIn(source, CONFIG_FILE);
  if (configText === null) throw new CheckpointError(`${configWhere}: not found (a NeoBERT checkpoint needs its config.json)`);
  const config = parseConfig(parseJson(configText, configWhere), configWhere);

  const lookup = await loadTensors(source, options.onProgress);
  const weights = buildWeights(config, lookup);
  const [vocabTxt, tokenizerJson] = await Promise.all([source.readText('vocab.txt'), source.readText('tokenizer.json')]);
  return {
    config,
    weights,
    tokenizerFiles: { vocabTxt, tokenizerJson },
    dtypes: summarizeDtypes(config, lookup),
    parameterCount: parameterCount(weights),
    label: source.label,
  };
}
