// What every architecture file (src/models/<arch>.ts) provides, and all the rest of the engine
// knows about a model: its common config fields, the forward plan it builds, and the
// Architecture object that turns config.json + tensors into a model on a GPU device.
import type { Arithmetic, Dispatch, GPUTensor, MatmulStrategy } from '../kernels';
import type { SequenceRange } from '../tables';
import type { TensorLookup } from '../tensor-table';

/** Storage of the matmul weights; everything else (norms, biases, residual stream) stays f32. */
export type ModelDtype = 'f32' | 'f16';

/**
 * 'mlm': per-token vocabulary logits (N, V); 'classification': per-sequence logits (S, labels);
 * 'token-classification': per-token logits (N, labels) that are not a vocabulary (NER, ELECTRA's
 * replaced-token discriminator).
 */
export type HeadKind = 'none' | 'mlm' | 'classification' | 'token-classification';

/** The config fields every architecture has (each file extends it with its own). */
export interface EncoderConfig {
  /** config.json model_type, e.g. "neobert", "bert", "roberta", "xlm-roberta", "modernbert". */
  modelType: string;
  architectures: string[];
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  vocabSize: number;
  /** Most tokens one sequence may have, special tokens included. */
  maxLength: number;
  padTokenId: number;
  /** Token type (segment) ids the model accepts: 0 when it takes none. */
  typeVocabSize: number;
  /** Token type ids below this are accepted and ignored (DeBERTa-v3: its tokenizer types pairs 0 / 1, the model has no type embeddings). */
  ignoredTokenTypes?: number;
  /** Set for sequence classifiers only. */
  numLabels: number | null;
  /** Label names by class index, from config.json id2label; null when absent (or not a classifier). */
  id2label: string[] | null;
  /**
   * Task adapters chosen per sequence (jina-embeddings-v3's lora_adaptations): their names by
   * index, the per-sequence input carrying the index (EncoderModel.sequenceInputs, adapter_mask)
   * and the prompt each task puts before a text (task_instructions). Absent: the model has none.
   */
  tasks?: { names: string[]; input: string; prompts: Record<string, string> };
  /**
   * What the checkpoint's own encode() does, when its config says (jina: emb_pooler, truncate_dim,
   * matryoshka_dimensions): embed()'s defaults where no sentence-transformers folder decides.
   */
  encode?: { pooling: 'cls' | 'mean'; normalize: boolean; truncateDim: number | null; dimensions: number[] | null };
  /**
   * Token type ids are accepted whatever their value and read as 0 (GTE with type_vocab_size 1,
   * whose reference zeroes them in place). Absent: they must be below typeVocabSize.
   */
  zeroesTokenTypes?: boolean;
}

export interface ModelOptions {
  /**
   * 'f16': matmul weights uploaded as IEEE halves (half the memory), f32 arithmetic. Needs no
   * optional feature: the kernels unpack halves with core WGSL's unpack2x16float. Default 'f32'.
   */
  dtype?: ModelDtype;
  /** Matmul kernel; default matmulStrategy(device): 'subgroup' on CPU adapters, 'tiled' on GPUs. */
  matmulStrategy?: MatmulStrategy;
  /**
   * Most rows per chunk of the vocabulary-sized tables (word embeddings, MLM decoder), which are
   * uploaded in row chunks when over one storage binding. Default: what the device's binding limit
   * allows (one chunk for most models). Smaller values test the chunked path.
   */
  maxChunkRows?: number;
  /**
   * Arithmetic of the matmuls and attention (see Arithmetic in src/kernels.ts): 'f16' rounds their
   * operands (activations, weights, q/k/v) to f16 with f32 products, sums and softmax; norms,
   * residual stream and pooling stay f32. Needs shader-f16 and runs the 'tiled' kernels. Default
   * (modelArithmetic): 'f16' when dtype is 'f16', the device has shader-f16 and the matmul strategy
   * is 'tiled' (GPUs), else 'f32'.
   */
  arithmetic?: Arithmetic;
}

/** What a forward computes beyond last_hidden_state and pooling. */
export interface PlanOptions {
  logits: boolean;
  /**
   * MLM heads only: compute logits for this many token rows (the plan's `logitRows` table
   * says which), not for all N tokens: logits are then (logitRows, V). 0 / absent: every token.
   */
  logitRows?: number;
}

/**
 * The batch one forward runs, as a plan's host inputs see it (see HostInput). Sequences are the
 * rows of a padded batch or the packed sequences, as token ranges of the plan's rows.
 */
export interface BatchLayout {
  /** Token range of each sequence of this forward. */
  ranges: readonly SequenceRange[];
  /** Real token rows; rows past them, up to `capacity` (the plan's N), are dummies. */
  tokens: number;
  capacity: number;
  /**
   * The batch's padded length T: a padded request's seqLen; a packed request's longest sequence
   * (of the whole request, so a text's result does not depend on how the request was split).
   */
  paddedLength: number;
  /**
   * The per-sequence inputs of the request (ForwardRequest / PackedRequest `sequenceInputs`,
   * e.g. adapter_mask), one value per sequence of this forward; absent names were not given.
   */
  sequenceInputs: Readonly<Record<string, Int32Array>>;
}

/**
 * A per-call table beyond the standard inputs, declared with PlanBuilder.hostInput: before every
 * forward the runner writes `fill(layout)` (u32 or f32, at most the tensor's elements) into it.
 * `fill` may throw an InputError for a bad per-sequence input.
 */
export interface HostInput {
  tensor: GPUTensor;
  fill(layout: BatchLayout): Uint32Array<ArrayBuffer> | Float32Array<ArrayBuffer>;
}

/**
 * Every buffer and dispatch for up to `tokens` tokens in up to `sequences` sequences, built once
 * and reused. Sequences are contiguous token ranges: the rows of a padded batch, or packed
 * sequences with no padding; the runner fills the tables per call.
 */
export interface ForwardPlan {
  tokens: number;
  sequences: number;
  options: PlanOptions;
  inputIds: GPUTensor; // (N) u32
  /** (N) u32 segment ids; null when the model takes none. */
  tokenTypeIds: GPUTensor | null;
  attentionMask: GPUTensor; // (N) u32, 1 = token, 0 = padding
  positions: GPUTensor; // (N) u32, position id of each token (see EncoderModel.positionOffset)
  attentionTiles: GPUTensor; // (maxTiles, 4) u32, see AttentionKernel.tileTable
  sequenceTable: GPUTensor; // (S, 4) u32, see PoolingKernel.sequenceTable
  /** (R) u32 token rows whose MLM logits are computed (options.logitRows = R); else null / absent. */
  logitRows?: GPUTensor | null;
  /** Architecture-specific per-call tables (see HostInput); absent or empty for most. */
  hostInputs?: HostInput[];
  outputs: {
    lastHiddenState: GPUTensor; // (N, C)
    pooledCls: GPUTensor; // (S, C)
    pooledMean: GPUTensor; // (S, C)
    pooledClsNormalized: GPUTensor; // (S, C)
    pooledMeanNormalized: GPUTensor; // (S, C)
    /** (S, C) the checkpoint's pooler (dense + tanh on the first token); null without one. */
    poolerOutput: GPUTensor | null;
    logits: GPUTensor | null; // (N, V) MLM ((R, V) with options.logitRows) or (S, labels) classification
    /** (S, D) the sentence-transformers modules' output; added by the Runner's SentenceTransformersHead, never by a model. */
    sentenceEmbedding?: GPUTensor | null;
  };
  /** In order; each owns its params buffer, which destroy() frees. */
  dispatches: Dispatch[];
  /** Every intermediate by label, for layer-by-layer debugging against the reference. */
  tensors: Map<string, GPUTensor>;
  /** Frees every buffer the plan created: its tensors and its dispatches' params buffers. */
  destroy(): void;
}

/** A model on a GPU device: weights uploaded and pipelines compiled once. */
export interface EncoderModel {
  readonly device: GPUDevice;
  readonly config: EncoderConfig;
  readonly dtype: ModelDtype;
  readonly headKind: HeadKind;
  /** Classification labels per sequence, or per token for 'token-classification' (0 without either head). */
  readonly numLabels: number;
  /**
   * 'token-classification' heads whose reference returns logits without the label axis ([B, T],
   * ELECTRA's discriminator with its one score per token); absent: [B, T, labels].
   */
  readonly tokenLogitsSqueezed?: boolean;
  readonly hasPooler: boolean;
  /** Position id of a sequence's first token; token i gets positionOffset + i (RoBERTa: pad + 1). */
  readonly positionOffset: number;
  /**
   * Names of the per-sequence inputs the model reads (e.g. ['adapter_mask']), which requests pass
   * as `sequenceInputs` and its plans' host inputs receive; absent: none (the runner rejects any).
   */
  readonly sequenceInputs?: readonly string[];
  /** Largest number of tokens one forward can hold within the device's binding limit. */
  maxTokensPerForward(options: PlanOptions): number;
  /** The forward pass as an ordered list of dispatches, for N tokens in S sequences. */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan;
  /** Frees the weights and the kernels' own buffers (plans are freed by whoever built them). */
  destroy(): void;
}

/** Host weights of an architecture, checked against the config, with what `info()` reports. */
export interface LoadedWeights<W> {
  weights: W;
  /** Tensors read per stored dtype, e.g. { F16: 26 }. */
  dtypes: Record<string, number>;
  parameterCount: number;
}

/** One architecture file's entry points; src/models/index.ts picks one by config.json model_type. */
export interface Architecture<C extends EncoderConfig = EncoderConfig, W = unknown> {
  /** Display name, e.g. "BERT". */
  name: string;
  /** config.json model_type values this file runs. */
  modelTypes: readonly string[];
  /**
   * Whether this file runs a config.json whatever its model_type says, decided by other fields
   * (jina-XLM-RoBERTa: model_type "xlm-roberta" or none, position_embedding_type "rotary"); the
   * registry asks every architecture before it looks at model_type.
   */
  claims?(fields: Record<string, unknown>): boolean;
  parseConfig(json: Record<string, unknown>, where: string): C;
  /** Checks every tensor (presence, shape, dtype) before converting any. */
  loadWeights(config: C, lookup: TensorLookup): LoadedWeights<W>;
  createModel(device: GPUDevice, config: C, weights: W, options?: ModelOptions): Promise<EncoderModel>;
  /**
   * The fixture folders (shared/fixtures/<family>) its bench peer is checked on, where they are not
   * its model types with `_` written `-` (GTE: model_type "new", folder "gte").
   */
  fixtureFamilies?: readonly string[];
  /** The matmuls of one layer, y = x W^T with W [N, K] (for the bench's matmul-only figures). */
  layerMatmuls(config: C): LayerMatmul[];
}

/** One matmul of a layer: its name and weight shape [N, K]. */
export interface LayerMatmul {
  name: string;
  N: number;
  K: number;
}
