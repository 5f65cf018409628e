// DistilBERT (Hugging Face transformers' modeling_distilbert): BERT's post-LayerNorm layer under
// its own tensor names (q_lin, k_lin, v_lin, out_lin, sa_layer_norm, ffn.lin1/lin2,
// output_layer_norm), word + absolute position embeddings (no token types, no pooler), every
// LayerNorm eps 1e-12 (hard-coded; the config has no field). Heads: MLM (vocab_transform -> act ->
// vocab_layer_norm -> vocab_projector tied to the word embeddings) and sequence classification
// (pre_classifier -> ReLU -> classifier on the first token). The layer stack, embeddings and heads
// are bert.ts's; this file is the config, the checkpoint table and the plan that strings them.
import { ConfigReader } from '../config';
import { EmbeddingKernel, MatmulKernel, type GPUTensor, type MatmulActivation } from '../kernels';
import { checkNoExtraLayer, checkTable, detectHead, detectPrefix, lazySection, linearSpec, normSpec, specsOf, tensorSpec as spec, type TensorLookup, type TensorSpec } from '../tensor-table';
import {
  ACTIVATIONS,
  allocPostLNBuffers,
  bertEmbeddingDispatches,
  bertEmbeddingSpecs,
  classifierDispatches,
  lazyBertEmbeddings,
  lazyPostLNLayer,
  mlmHeadDispatches,
  postLNKernelSpecs,
  postLNLayerDispatches,
  postLNLayerMatmuls,
  postLNLayerTable,
  uploadBertEmbeddings,
  uploadClassifier,
  uploadMlmHead,
  uploadPostLNLayers,
  type BertEmbeddingTensors,
  type BertEmbeddingWeights,
  type BertLayerWeights,
  type ClassifierTensors,
  type MlmHeadTensors,
  type PostLNLayerNames,
  type PostLNLayerTensors,
} from './bert';
import { maxTokensForWidth, modelArithmetic, pooledOutputs, PlanBuilder, WeightArena } from './common';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

/** transformers hard-codes it for every DistilBERT LayerNorm (embeddings, layers, vocab_layer_norm). */
export const DISTILBERT_LAYER_NORM_EPS = 1e-12;

export interface DistilBertConfig extends EncoderConfig {
  /** hidden_dim: the FFN width. */
  intermediateSize: number;
  /** activation, as a matmul epilogue (FFN and MLM head). */
  activation: MatmulActivation;
  maxPositionEmbeddings: number;
}

/** config.json holds DistilBERT's own names: dim, n_layers, n_heads, hidden_dim, activation. */
export function parseDistilBertConfig(json: unknown, where: string): DistilBertConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'distilbert';
  if (modelType !== 'distilbert') r.fail(`model_type is ${JSON.stringify(modelType)}, expected "distilbert"`);
  const hiddenSize = r.integer('dim', 1);
  const numLayers = r.integer('n_layers', 1);
  const numHeads = r.integer('n_heads', 1);
  const intermediateSize = r.integer('hidden_dim', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const maxPositionEmbeddings = r.integer('max_position_embeddings', 1, 512);
  const activation = r.choice('activation', Object.keys(ACTIVATIONS), 'gelu');
  r.boolean('sinusoidal_pos_embds', false); // only how the stored position table was initialised
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0) r.fail(`dim=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  const architectures = r.architectures();
  return {
    modelType: 'distilbert',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength: maxPositionEmbeddings,
    padTokenId: r.padTokenId(vocabSize, 0),
    typeVocabSize: 0,
    ...r.labels(architectures.some((a) => a.endsWith('ForSequenceClassification'))),
    intermediateSize,
    activation: ACTIVATIONS[activation],
    maxPositionEmbeddings,
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

/** The post-LN layer under DistilBERT's names (relative to transformer.layer.N.). */
const DISTILBERT_LAYER_NAMES: PostLNLayerNames = {
  query: 'attention.q_lin',
  key: 'attention.k_lin',
  value: 'attention.v_lin',
  attentionOut: 'attention.out_lin',
  attentionNorm: 'sa_layer_norm',
  intermediate: 'ffn.lin1',
  output: 'ffn.lin2',
  outputNorm: 'output_layer_norm',
};

const FIELDS = { hidden: 'dim', intermediate: 'hidden_dim', layers: 'n_layers' };

export interface DistilBertWeights extends BertEmbeddingWeights {
  layers: BertLayerWeights[];
  head:
    | { kind: 'none' }
    | { kind: 'mlm'; dense: Float32Array; denseBias: Float32Array; norm: Float32Array; normBias: Float32Array; decoder: Float32Array; decoderBias: Float32Array }
    | { kind: 'classification'; dense: Float32Array; denseBias: Float32Array; weight: Float32Array; bias: Float32Array };
}

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadDistilBertWeights(config: DistilBertConfig, lookup: TensorLookup) {
  const { hiddenSize: C, vocabSize: V } = config;
  const prefix = detectPrefix(lookup, ['', 'distilbert.'], 'embeddings.word_embeddings.weight', 'DistilBERT');
  checkNoExtraLayer(lookup, (i) => `${prefix}transformer.layer.${i}.attention.q_lin.weight`, config.numLayers);
  const embeddings = bertEmbeddingSpecs(lookup, `${prefix}embeddings`, { vocab: V, positions: config.maxPositionEmbeddings, types: 0, width: C, widthField: 'dim' });
  const layers = postLNLayerTable(lookup, config, (i) => `${prefix}transformer.layer.${i}.`, DISTILBERT_LAYER_NAMES, FIELDS);
  const kind = detectHead(config, lookup, { mlm: [['vocab_transform.weight']], classifier: ['classifier.weight', 'pre_classifier.weight'] });
  const hidden = [`dim=${C}`];
  const pair = (base: string, out: number, because: string[]) => linearSpec(base, out, C, because) as { weight: TensorSpec; bias: TensorSpec };
  let head: Record<string, TensorSpec> = {};
  if (kind === 'mlm') {
    const dense = pair('vocab_transform', C, hidden);
    const norm = normSpec(lookup, 'vocab_layer_norm', C, hidden) as { weight: TensorSpec; bias: TensorSpec };
    // vocab_projector.weight is tied to the word embeddings; save_pretrained drops it.
    const decoder = lookup.has('vocab_projector.weight') ? spec('vocab_projector.weight', [V, C], [`vocab_size=${V}`, ...hidden]) : embeddings.word;
    head = { dense: dense.weight, denseBias: dense.bias, norm: norm.weight, normBias: norm.bias, decoder, decoderBias: spec('vocab_projector.bias', [V], [`vocab_size=${V}`]) };
  } else if (kind === 'classification') {
    const dense = pair('pre_classifier', C, hidden);
    const out = pair('classifier', config.numLabels!, [`num_labels=${config.numLabels}`, ...hidden]);
    head = { dense: dense.weight, denseBias: dense.bias, weight: out.weight, bias: out.bias };
  }
  const summary = checkTable(lookup, specsOf({ embeddings, layers, head }));
  const weights = Object.defineProperties(
    { layers: layers.map((l) => lazyPostLNLayer(lookup, l)), head: Object.defineProperties({ kind }, Object.getOwnPropertyDescriptors(lazySection(lookup, head))) },
    Object.getOwnPropertyDescriptors(lazyBertEmbeddings(lookup, embeddings)),
  ) as DistilBertWeights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

type HeadTensors = { kind: 'none' } | ({ kind: 'mlm' } & MlmHeadTensors) | ({ kind: 'classification' } & ClassifierTensors);

/** Every pipeline a forward of this checkpoint uses, compiled once (only the variants it needs). */
function createKernels(arena: WeightArena, config: DistilBertConfig, head: HeadKind) {
  const { device, dtype: weightDtype, options } = arena;
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic: modelArithmetic(device, options) };
  return arena.kernels({
    ...postLNKernelSpecs(arena, config, config.activation),
    embedding: EmbeddingKernel.create(device, config.hiddenSize, { positions: true }), // word + position
    // The classifier's ReLU whatever `activation` says (matmulBiasAct when that is relu).
    matmulBiasRelu: head === 'classification' && config.activation !== 'relu' ? MatmulKernel.create(device, { ...m, bias: true, activation: 'relu' }) : null,
    gather: head === 'mlm' ? EmbeddingKernel.create(device, config.hiddenSize) : null, // the MLM head's logit rows
  });
}

export class DistilBertModel implements EncoderModel {
  readonly hasPooler = false;
  readonly positionOffset = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly config: DistilBertConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly kernels: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: BertEmbeddingTensors,
    private readonly layers: PostLNLayerTensors[],
    private readonly head: HeadTensors,
    readonly dtype: ModelDtype,
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.bias.shape[0] : 0;
  }

  static async create(device: GPUDevice, config: DistilBertConfig, weights: DistilBertWeights, options: ModelOptions = {}): Promise<DistilBertModel> {
    const { hiddenSize: C, vocabSize: V } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, weights.head.kind);
    const layers = await uploadPostLNLayers(arena, config, weights.layers);
    const embeddings = uploadBertEmbeddings(arena, weights, { vocab: V, positions: config.maxPositionEmbeddings, types: 0, width: C });
    const w = weights.head;
    let head: HeadTensors = { kind: 'none' };
    if (w.kind === 'mlm') head = { kind: 'mlm', ...uploadMlmHead(arena, w, C, C, V) };
    else if (w.kind === 'classification') head = { kind: 'classification', ...uploadClassifier(arena, w, C) };
    return new DistilBertModel(device, config, arena, kernels, embeddings, layers, head, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * The forward pass for N tokens in S sequences (C dim, I hidden_dim, V vocabulary):
   * x = LN(word + position); post-LN layers as BERT's; heads on the last hidden state.
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const eps = DISTILBERT_LAYER_NORM_EPS;
    const k = this.kernels;
    const p = new PlanBuilder(this.device, tokens, sequences, options, { tokenTypes: false });
    const { alloc, dispatches: d, inputs } = p;
    const buf = allocPostLNBuffers(alloc, tokens, this.config);
    bertEmbeddingDispatches(d, k, this.embeddings, inputs, buf.sum, buf.xA, eps); // (N, C)
    postLNLayerDispatches(d, k, this.layers, buf, inputs, eps); // (N, C) last
    const last = buf.last;
    const pooled = pooledOutputs(alloc, d, k, last, inputs.attentionMask, inputs.sequenceTable); // (S, C) x4
    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      ({ logits, logitRows } = mlmHeadDispatches(p, { ...k, gather: k.gather!, act: k.matmulBiasAct }, head, last, eps)); // (M, V)
    } else if (options.logits && head.kind === 'classification') {
      logits = classifierDispatches(p, { act: k.matmulBiasRelu ?? k.matmulBiasAct, matmulBias: k.matmulBias }, head, pooled.pooledCls); // (S, labels)
    }
    return p.finish({ lastHiddenState: last, pooled, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

export const distilbert: Architecture<DistilBertConfig, DistilBertWeights> = {
  name: 'DistilBERT',
  modelTypes: ['distilbert'],
  parseConfig: parseDistilBertConfig,
  loadWeights: loadDistilBertWeights,
  createModel: (device, config, weights, options) => DistilBertModel.create(device, config, weights, options),
  layerMatmuls: postLNLayerMatmuls,
};
