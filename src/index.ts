// Public API, browser-safe. Node-only helpers (folders, atomic writes, the bundled checkpoint
// path) are in 'neobert-webgpu/node'.
export {
  NeoBERT,
  ModelDisposedError,
  DeviceLostError,
  type EmbedOptions,
  type EmbeddingMatrix,
  type FillMaskOptions,
  type FillMaskPrediction,
  type ClassifyOptions,
  type LabelScore,
  type LoadOptions,
  type ModelInfo,
  type RunTimings,
  type Inputs,
  type TokenIds,
  type Pooling,
  type DType,
} from './neobert';
export { NeoBERTWorker, type WorkerLoadOptions } from './worker-client';
export { BUNDLED_MODEL, BUNDLED_MODEL_PATH, resolveSource, type ModelSource } from './source';
export {
  loadCheckpoint,
  urlSource,
  filesSource,
  memorySource,
  clearModelCache,
  DEFAULT_CACHE_NAME,
  type CheckpointSource,
  type LoadedCheckpoint,
  type Progress,
  type ProgressFn,
  type UrlSourceOptions,
} from './checkpoint';
export { parseConfig, NEOBERT_BASE_CONFIG_JSON, type NeoBERTConfig } from './config';
export { parseSafetensors, serializeSafetensors, SafetensorsFile } from './safetensors';
export { NeoBERTTokenizer, TokenLimitError, buildBertTokenizerJson, type EncodedBatch } from './tokenizer';
export { createGPU, GPUUnavailableError, type GPUContext, type AdapterDescription } from './gpu';
export { NeoBERTError, CheckpointError } from './errors';
export { InputError } from './model';
export type { ForwardRequest, ForwardResult, OutputName } from './runner';
export { referenceForward } from './reference';

/** Where the real checkpoint lives on the Hugging Face Hub (Hub-style folder URL). */
export const NEOBERT_HUB_URL = 'https://huggingface.co/chandar-lab/NeoBERT/resolve/main/';
