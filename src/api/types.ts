// The public API's types: inputs, options and results of the Encoder calls.
import type { TokenizerFiles } from '../checkpoint';
import type { ProgressFn } from '../sources/types';
import type { GPUContext, AdapterDescription } from '../gpu';
import type { EncoderConfig, HeadKind } from '../models/types';
import type { SentenceTransformersConfig } from '../sentence-transformers';
import type { EncoderTokenizer } from '../tokenizer';

export type Pooling = 'cls' | 'mean';
/** A sentence pair: [text, text_pair] (cross-encoders, NLI, BERT next-sentence style inputs). */
export type TextPair = readonly [string, string];
/** Compute precision. 'fp32' is accepted as the transformers.js spelling of 'f32'. */
export type DType = 'f32' | 'fp32' | 'f16' | 'fp16';
/** A sequence of token ids used as given: include [CLS] ... [SEP] yourself. */
export type TokenIds = ArrayLike<number>;
/** Texts (tokenized with the checkpoint's tokenizer) or token id sequences; one kind per call. */
export type Inputs = readonly string[] | readonly TokenIds[];
/** Texts, sentence pairs, or token id sequences; one kind per call. */
export type ClassifyInputs = Inputs | readonly TextPair[];

export interface LoadOptions {
  /** Matmul weight precision: 'f32' (default) or 'f16' (f16 weights, f32 arithmetic and accumulation; any WebGPU device). */
  dtype?: DType;
  /**
   * 'webgpu' (default, the only backend), or a GPUDevice your page already uses (the model then
   * shares it and dispose() leaves it alive).
   */
  device?: 'webgpu' | GPUDevice;
  /** Reuse a GPUContext from createGPU() (several models on one device, tests). Not owned. */
  gpu?: GPUContext;
  /** Download / read progress per file. */
  onProgress?: ProgressFn;
  /**
   * Cache Storage bucket for URL downloads (browser pages and workers), keyed by URL: a second
   * visit reads the files from disk. Default 'neobert-webgpu-v1'; false downloads every time.
   */
  cache?: string | false;
  /** Branch, tag or commit of a Hub model id (default 'main'); ignored for other sources. */
  revision?: string;
  /**
   * Operands of the matmul and attention kernels: 'f16' (f16 operands, f32 sums; needs
   * shader-f16 and the tiled kernels) or 'f32'. Default: 'f16' for dtype 'f16' on a device with
   * shader-f16 whose matmul strategy is the GPU one, else 'f32'.
   */
  arithmetic?: 'f32' | 'f16';
  /**
   * A tokenizer for a checkpoint that ships none (or to replace its own): an EncoderTokenizer,
   * or the text of its files (tokenizer.json, vocab.txt, or vocab.json + merges.txt).
   */
  tokenizer?: EncoderTokenizer | Partial<TokenizerFiles>;
}

/** Where the time of one call went. Stages are measured on the host around each step. */
export interface RunTimings {
  /** Waiting behind earlier calls on the same model. Not part of totalMs. */
  queuedMs: number;
  /** Text to token ids (0 for token id inputs). */
  tokenizeMs: number;
  /** Upload of the ids, the GPU forward, and the wait until its outputs are mapped for reading. */
  gpuMs: number;
  /** Copying the mapped outputs into the results (plus softmax and top-k for fillMask / classify). */
  readbackMs: number;
  /** tokenizeMs + gpuMs + readbackMs, measured end to end. */
  totalMs: number;
  /** Sequences run. */
  sequences: number;
  /** Real tokens, [CLS] and [SEP] included. */
  tokens: number;
  /** Token rows the GPU computed: the real tokens plus the rounding of each forward's capacity. */
  computedTokens: number;
  /** GPU forwards. */
  batches: number;
  /** tokens / totalMs. */
  tokensPerSecond: number;
}

interface CallOptions {
  /** Receives this call's timings just before its promise resolves. */
  onTimings?: (timings: RunTimings) => void;
}

interface TokenOptions {
  /** Tokens per text including [CLS]/[SEP]; default and upper bound: the model's max_length. */
  maxLength?: number;
  /** Cut texts over maxLength (default); false makes them an error (TokenLimitError). */
  truncation?: boolean;
}

interface BatchOptions extends TokenOptions {
  /** Sequences per GPU forward (default 32). Inputs are sorted by length before batching. */
  batchSize?: number;
  /** Called after each GPU batch with the number of inputs done. */
  onBatch?: (done: number, total: number) => void;
}

export interface EmbedOptions extends BatchOptions, CallOptions {
  /**
   * 'cls' (first token) or 'mean' (masked mean over tokens). Default: the sentence-transformers
   * folder's Pooling module when the checkpoint has one, else 'cls'.
   */
  pooling?: Pooling;
  /** L2-normalise each embedding (then a dot product is the cosine similarity). Default: true when the folder lists a Normalize module. */
  normalize?: boolean;
  /** Text put before every input text (e5: 'query: '), as SentenceTransformer.encode's prompt. */
  prompt?: string;
  /** One of the folder's named prompts (config_sentence_transformers.json), e.g. 'query'. */
  promptName?: string;
}

/** Embeddings as one row-major [rows, cols] matrix (rows in input order). */
export interface EmbeddingMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export interface FillMaskOptions extends TokenOptions, CallOptions {
  /** Predictions per [MASK] (default 5). */
  topK?: number;
  /** Predict at these token positions instead of at the [MASK] tokens (0 is [CLS]). */
  positions?: number[];
}

export interface FillMaskPrediction {
  /** Vocabulary entry ("##" marks a word piece); "#<id>" when the checkpoint has no tokenizer. */
  token: string;
  id: number;
  /** Softmax probability over the whole vocabulary. */
  score: number;
  /** The input with this prediction in place of the mask; null without a tokenizer. */
  sequence: string | null;
}

export interface ClassifyOptions extends BatchOptions, CallOptions {
  /** Keep the K best labels per input (default: all, best first). */
  topK?: number;
}

export interface GuardOptions extends BatchOptions, CallOptions {
  /** Block when the probability of the block labels reaches this (default 0.5). */
  threshold?: number;
  /**
   * Labels that mean "block" (names from id2label, or class indices). Default: for a two-label
   * classifier, label 1 (e.g. INJECTION, jailbreak, unsafe); other classifiers must name them.
   */
  blockLabels?: readonly (string | number)[];
}

/** An allow/block decision for one input of guard(). */
export interface GuardDecision {
  index: number;
  decision: 'allow' | 'block';
  /** Probability of the block labels (summed). */
  score: number;
  /** The most probable label. */
  label: string;
  /** Every label, best first. */
  labels: LabelScore[];
}

export interface RankOptions extends BatchOptions, CallOptions {
  /** Keep the K best documents (default: all, best first). */
  topK?: number;
}

/** One document's relevance to the query, from a cross-encoder. */
export interface RankResult {
  /** Index of the document in the list given to rank(). */
  index: number;
  /** sigmoid(logit) for a one-label cross-encoder; the softmax probability of the last label otherwise. */
  score: number;
  /** The raw logit (of the last label for multi-label heads). */
  logit: number;
}

export interface LabelScore {
  /** config.json id2label name, or LABEL_<id>. */
  label: string;
  id: number;
  /** Softmax probability over the labels. */
  score: number;
  logit: number;
}

export interface ModelInfo {
  label: string;
  /** Architecture name, e.g. "BERT", "NeoBERT". */
  architecture: string;
  config: EncoderConfig;
  parameterCount: number;
  dtypes: Record<string, number>;
  head: HeadKind;
  /** Class names by index (classification head only). */
  labels: string[] | null;
  adapter: AdapterDescription;
  tokenizer: string | null;
  /** The sentence-transformers modules (pooling, normalisation, prompts), when the folder has them. */
  sentenceTransformers: SentenceTransformersConfig | null;
}

