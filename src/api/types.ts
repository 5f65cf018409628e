// The public API's types: inputs, options and results of the Encoder calls.
import type { TokenizerFiles } from '../checkpoint';
import type { ProgressFn } from '../sources/types';
import type { GPUContext, AdapterDescription } from '../gpu';
import type { EncoderConfig, HeadKind } from '../models/types';
import type { CrossEncoderActivation, SentenceTransformersConfig } from '../sentence-transformers';
import type { Precision } from './postprocess';

export type { Precision };
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
   * 'cls' (first token) or 'mean' (masked mean over tokens) of the transformer's output, instead
   * of the sentence-transformers modules (refused for a folder whose chain is more than one such
   * Pooling + Normalize: its Dense modules or other modes would be skipped). Default: the folder's
   * modules when the checkpoint has them, else 'cls'.
   */
  pooling?: Pooling;
  /**
   * sentence-transformers folders: L2-normalise after every module and truncateDim, as
   * normalize_embeddings=True (the folder's Normalize module applies either way). Other
   * checkpoints (or with `pooling`): normalise the pooled vector; default there: true when the
   * folder lists a Normalize module.
   */
  normalize?: boolean;
  /**
   * Text put before every input text (e5: 'query: '), as SentenceTransformer.encode's prompt;
   * wins over promptName. '' is a prompt given: it disables the folder's default_prompt_name.
   */
  prompt?: string;
  /** One of the folder's named prompts (config_sentence_transformers.json), e.g. 'query'. */
  promptName?: string;
  /**
   * Keep the first N dimensions (Matryoshka), after every module of the folder and before
   * `normalize`. Default: the folder's config_sentence_transformers.json truncate_dim, else the
   * checkpoint's own encode() truncate_dim (jina's config.json, normalised after the cut as its
   * encode() does), else all. Must be one of the config's matryoshka_dimensions when it lists any.
   */
  truncateDim?: number;
  /**
   * 'float32' (default), or quantized as sentence-transformers' quantize_embeddings: 'int8' /
   * 'uint8' (per-dimension min / max over this call's embeddings, 256 steps; Int8Array /
   * Uint8Array rows), 'binary' / 'ubinary' (one bit per dimension, x > 0, 8 per byte MSB first:
   * ceil(D / 8) values per row; Int8Array = bytes - 128 / Uint8Array).
   */
  precision?: Precision;
  /**
   * A task adapter of the checkpoint (jina-embeddings-v3: config lora_adaptations, e.g.
   * 'retrieval.query', 'retrieval.passage', 'text-matching'): every text runs with that task's
   * LoRA adapters, and the task's instruction (task_instructions) is its prompt unless prompt or
   * promptName is given. Without one, no adapter is applied. An unknown name is an InputError
   * listing the model's tasks.
   */
  task?: string;
}

/** Embeddings as one row-major [rows, cols] matrix (rows in input order). */
export interface EmbeddingMatrix<T extends Float32Array | Int8Array | Uint8Array = Float32Array> {
  data: T;
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
  /** score = the raw logit, without the cross-encoder's activation. */
  rawScores?: boolean;
  /** Put each document's text in its result (CrossEncoder.rank return_documents). */
  returnDocuments?: boolean;
}

export interface PredictOptions extends BatchOptions, CallOptions {
  /** Softmax over the labels after the activation (multi-label heads), as CrossEncoder.predict(apply_softmax=True). */
  applySoftmax?: boolean;
}

/** One document's relevance to the query, from a cross-encoder. */
export interface RankResult {
  /** Index of the document in the list given to rank(). */
  index: number;
  /**
   * The cross-encoder's activation of its logit, as CrossEncoder.rank: the folder's activation_fn
   * (ms-marco: Identity, so the logit), else sigmoid; the logit with rawScores.
   */
  score: number;
  /** The raw logit. */
  logit: number;
  /** The document, with returnDocuments. */
  document?: string;
}

export interface LabelScore {
  /** config.json id2label name, or LABEL_<id>. */
  label: string;
  id: number;
  /** Probability: softmax over the labels, or a sigmoid per label for a multi_label_classification problem_type. */
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
  /** A classifier's activation as sentence-transformers' CrossEncoder picks it (rank / predict scores). */
  crossEncoder: CrossEncoderActivation | null;
}

