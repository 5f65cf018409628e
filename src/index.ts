// Public API, browser-safe. Node-only helpers (folders, atomic writes, the bundled checkpoint
// path) are in 'neobert-webgpu/node'.
export {
  Encoder,
  NeoBERT,
  type EmbedOptions,
  type EmbeddingMatrix,
  type FillMaskOptions,
  type FillMaskPrediction,
  type ClassifyOptions,
  type ClassifyInputs,
  type TextPair,
  type RankOptions,
  type GuardOptions,
  type GuardDecision,
  type RankResult,
  type LabelScore,
  type LoadOptions,
  type ModelInfo,
  type RunTimings,
  type Inputs,
  type TokenIds,
  type Pooling,
  type DType,
  type Precision,
  type PredictOptions,
} from './encoder';
export { EncoderWorker, NeoBERTWorker, type WorkerLoadOptions } from './worker-client';
export { BUNDLED_MLM_MODEL, BUNDLED_MLM_MODEL_PATH, BUNDLED_MODEL, BUNDLED_MODEL_PATH, HUB_ENDPOINT, hubModelUrl, isHubModelId, resolveSource, type ModelSource } from './source';
export { loadCheckpoint, type LoadedCheckpoint, type TokenizerFiles } from './checkpoint';
export { urlSource, clearModelCache, DEFAULT_CACHE_NAME, type UrlSourceOptions } from './sources/url';
export { filesSource } from './sources/files';
export { memorySource } from './sources/memory';
export type { CheckpointSource, NamedBlob, Progress, ProgressFn } from './sources/types';
export { ARCHITECTURES, architectureFor, parseConfig, supportedModelTypes } from './models/index';
export type { Architecture, EncoderConfig, EncoderModel, HeadKind } from './models/types';
export { NEOBERT_BASE_CONFIG_JSON, type NeoBERTConfig } from './models/neobert';
export type {
  SentenceTransformersConfig,
  PoolingConfig,
  DenseConfig,
  SentenceStep,
  SentencePoolingMode,
  SimilarityFunction,
  CrossEncoderActivation,
} from './sentence-transformers';
export { parseSafetensors, serializeSafetensors, SafetensorsFile } from './safetensors';
export { EncoderTokenizer, NeoBERTTokenizer, buildBertTokenizerJson, type EncodedBatch } from './tokenizer';
export { createGPU, type GPUContext, type AdapterDescription } from './gpu';
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
  DeviceLimitError,
  UnknownTaskError,
} from './errors';
export type { ForwardRequest, ForwardResult, OutputName } from './runner';

/** Where the real NeoBERT checkpoint lives on the Hugging Face Hub (Hub-style folder URL). */
export const NEOBERT_HUB_URL = 'https://huggingface.co/chandar-lab/NeoBERT/resolve/main/';
