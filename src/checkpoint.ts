// Loads a Hub-layout checkpoint of any supported architecture (config.json + safetensors,
// optionally sharded, + tokenizer files + a sentence-transformers folder's modules) from any
// source: a URL folder, files picked in the browser, memory, or (src/node) a local folder.

import { CheckpointError } from './errors';
import { architectureFor } from './models/index';
import type { Architecture, EncoderConfig } from './models/types';
import { openSafetensors, parseSafetensors, type RangeReader, type SafetensorsFile } from './safetensors';
import { crossEncoderActivation, readSentenceTransformers, type CrossEncoderActivation, type DenseWeights, type SentenceTransformersConfig } from './sentence-transformers';
import type { TensorLookup } from './tensor-table';
import { pathIn, type CheckpointSource, type ProgressFn } from './sources/types';

// The sources live in src/sources/; re-exported here, where code written before the move imports them.
export { pathIn, type CheckpointSource, type NamedBlob, type Progress, type ProgressFn } from './sources/types';
export { clearModelCache, DEFAULT_CACHE_NAME, urlSource, type UrlSourceOptions } from './sources/url';
export { filesSource } from './sources/files';
export { memorySource } from './sources/memory';

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
  /** Weights of the folder's Dense modules, in sentenceTransformers.steps order (host copies). */
  sentenceTransformersDense: DenseWeights[];
  /** A sequence classifier's activation as sentence-transformers' CrossEncoder picks it; null without labels. */
  crossEncoder: CrossEncoderActivation | null;
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
  const where = (file: string) => pathIn(source, file);
  const stFolder = await readSentenceTransformers(source, where);
  const sentenceTransformers = stFolder?.config ?? null;
  const crossEncoder = config.numLabels !== null ? crossEncoderActivation(configJson as Record<string, unknown>, sentenceTransformers, config.numLabels, where) : null;

  const lookup = await loadTensors(source, options.onProgress);
  const { weights, dtypes, parameterCount } = architecture.loadWeights(config, lookup);
  return {
    architecture,
    config: config as C,
    weights: weights as W,
    tokenizerFiles: await readTokenizerFiles(source),
    sentenceTransformers,
    sentenceTransformersDense: stFolder?.dense ?? [],
    crossEncoder,
    dtypes,
    parameterCount,
    label: source.label,
    close: () => lookup.close?.(),
  };
}
