// MPNet (microsoft/mpnet-base, sentence-transformers/all-mpnet-base-v2; Hugging Face transformers'
// modeling_mpnet): a post-LayerNorm BERT-like encoder without token types, fairseq positions
// (padding index 1 hard-coded: real tokens use rows 2..), and one T5-style bucketed relative
// position bias table [32, H] shared by every layer, added to the attention logits unscaled. The
// bucket is computed inside the attention kernel from (i - j) (kernels/attention*.wgsl, REL_BIAS),
// so no L x L bias exists and packed sequences keep O(L) memory.
// This file is the whole architecture: config, checkpoint table, forward plan.
import { ConfigReader } from '../config';
import { CheckpointError } from '../errors';
import { AttentionKernel, EmbeddingKernel, MatmulKernel, type GPUTensor, type MatmulActivation } from '../kernels';
import { checkNoExtraLayer, checkTable, detectPrefix, lazySection, linearSpec, normSpec, specsOf, tensorSpec as spec, type TensorLookup, type TensorSpec } from '../tensor-table';
import {
  allocPostLNBuffers,
  lazyPostLNLayer,
  postLNKernelSpecs,
  postLNLayerDispatches,
  postLNLayerMatmuls,
  postLNLayerTable,
  uploadPostLNLayers,
  type BertLayerWeights,
  type PostLNLayerNames,
  type PostLNLayerTensors,
} from './bert';
import { embeddingDispatches, linearDispatches, logitRowsInput, maxTokensForWidth, modelArithmetic, pooledOutputs, PlanBuilder, WeightArena, type EmbeddingTable, type RowChunkedLinear } from './common';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

const ACTIVATIONS: Record<string, MatmulActivation> = {
  gelu: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
};

/** MPNetEmbeddings' padding index: hard-coded 1 (it does not read pad_token_id). */
const MPNET_PADDING_IDX = 1;

export interface MPNetConfig extends EncoderConfig {
  intermediateSize: number;
  hiddenAct: string;
  activation: MatmulActivation;
  layerNormEps: number;
  maxPositionEmbeddings: number;
  /** Rows of encoder.relative_attention_bias (relative_attention_num_buckets); only the first 32 are used. */
  relativeBuckets: number;
}

export function parseMPNetConfig(json: unknown, where: string): MPNetConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'mpnet';
  if (modelType !== 'mpnet') r.fail(`model_type is ${JSON.stringify(modelType)}, expected "mpnet"`);
  const hiddenSize = r.integer('hidden_size', 1);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const intermediateSize = r.integer('intermediate_size', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const maxPositionEmbeddings = r.integer('max_position_embeddings', 1, 514);
  const layerNormEps = r.positive('layer_norm_eps', 1e-12);
  const hiddenAct = r.choice('hidden_act', Object.keys(ACTIVATIONS), 'gelu');
  // compute_position_bias always uses 32 buckets; the config field only sizes the table.
  const relativeBuckets = r.integer('relative_attention_num_buckets', 1, 32);
  if (relativeBuckets < AttentionKernel.RELATIVE_BUCKETS) {
    r.fail(`relative_attention_num_buckets=${relativeBuckets}: MPNet's encoder reads buckets 0..31 of the table, so it needs at least ${AttentionKernel.RELATIVE_BUCKETS} rows`);
  }
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0) r.fail(`hidden_size=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  const padTokenId = r.padTokenId(vocabSize, 1);
  const maxLength = maxPositionEmbeddings - (MPNET_PADDING_IDX + 1);
  if (maxLength < 1) r.fail(`max_position_embeddings=${maxPositionEmbeddings} leaves no position for a token after the padding index 1`);
  const architectures = r.architectures();
  return {
    modelType: 'mpnet',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength,
    padTokenId,
    typeVocabSize: 0,
    ...r.labels(architectures.some((a) => a.endsWith('ForSequenceClassification'))),
    intermediateSize,
    hiddenAct,
    activation: ACTIVATIONS[hiddenAct],
    layerNormEps,
    maxPositionEmbeddings,
    relativeBuckets,
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

/** MPNet's names for the post-LN layer's modules (BERT's layer, its own names). */
const MPNET_LAYER_NAMES: PostLNLayerNames = {
  query: 'attention.attn.q',
  key: 'attention.attn.k',
  value: 'attention.attn.v',
  attentionOut: 'attention.attn.o',
  attentionNorm: 'attention.LayerNorm',
  intermediate: 'intermediate.dense',
  output: 'output.dense',
  outputNorm: 'output.LayerNorm',
};

export type MPNetHeadWeights =
  | { kind: 'none' }
  // lm_head: dense -> exact GELU -> layer_norm -> tied decoder + lm_head.bias
  | { kind: 'mlm'; dense: Float32Array; denseBias: Float32Array; norm: Float32Array; normBias: Float32Array; decoder: Float32Array; decoderBias: Float32Array }
  // classifier: dense -> tanh -> out_proj on <s>
  | { kind: 'classification'; dense: Float32Array; denseBias: Float32Array; weight: Float32Array; bias: Float32Array };

export interface MPNetWeights {
  wordEmbeddings: Float32Array; // [V, C]
  positionEmbeddings: Float32Array; // [P, C]
  embeddingNorm: Float32Array; // [C]
  embeddingNormBias: Float32Array; // [C]
  relativeBias: Float32Array; // [R, H] encoder.relative_attention_bias.weight
  layers: BertLayerWeights[];
  pooler: { weight: Float32Array; bias: Float32Array } | null;
  head: MPNetHeadWeights;
}

function tensorTable(config: MPNetConfig, lookup: TensorLookup) {
  const { hiddenSize: C, vocabSize: V, numHeads: H, numLabels } = config;
  // The layout comes from the tensor names: all-mpnet-base-v2's config says MPNetForMaskedLM over MPNetModel keys.
  const prefix = detectPrefix(lookup, ['', 'mpnet.'], 'embeddings.word_embeddings.weight', config.modelType);
  checkNoExtraLayer(lookup, (i) => `${prefix}encoder.layer.${i}.attention.attn.q.weight`, config.numLayers);
  const hidden = `hidden_size=${C}`;
  const linear = (base: string, out: number, inp: number, because: string[]) => linearSpec(base, out, inp, because) as { weight: TensorSpec; bias: TensorSpec };
  const norm = (base: string) => normSpec(lookup, base, C, [hidden]) as { weight: TensorSpec; bias: TensorSpec };
  const e = `${prefix}embeddings`;
  const embeddings = {
    word: spec(`${e}.word_embeddings.weight`, [V, C], [`vocab_size=${V}`, hidden]),
    position: spec(`${e}.position_embeddings.weight`, [config.maxPositionEmbeddings, C], [`max_position_embeddings=${config.maxPositionEmbeddings}`, hidden]),
    norm: norm(`${e}.LayerNorm`),
    relativeBias: spec(`${prefix}encoder.relative_attention_bias.weight`, [config.relativeBuckets, H], [`relative_attention_num_buckets=${config.relativeBuckets}`, `num_attention_heads=${H}`]),
  };
  const layers = postLNLayerTable(lookup, config, (i) => `${prefix}encoder.layer.${i}.`, MPNET_LAYER_NAMES);
  const pooler = lookup.has(`${prefix}pooler.dense.weight`) ? linear(`${prefix}pooler.dense`, C, C, [hidden]) : null;

  let kind: HeadKind = 'none';
  let head: Record<string, TensorSpec> = {};
  if (config.numLabels !== null) {
    kind = 'classification';
    const dense = linear('classifier.dense', C, C, [hidden]);
    const out = linear('classifier.out_proj', numLabels!, C, [`num_labels=${numLabels}`, hidden]);
    head = { dense: dense.weight, denseBias: dense.bias, weight: out.weight, bias: out.bias };
  } else if (lookup.has('lm_head.dense.weight')) {
    kind = 'mlm';
    const dense = linear('lm_head.dense', C, C, [hidden]);
    const ln = norm('lm_head.layer_norm');
    // The decoder is tied to the word embeddings and its bias is lm_head.bias; save_pretrained drops both aliases.
    const decoder = lookup.has('lm_head.decoder.weight') ? spec('lm_head.decoder.weight', [V, C], [`vocab_size=${V}`, hidden]) : embeddings.word;
    const biasName = lookup.has('lm_head.bias') ? 'lm_head.bias' : 'lm_head.decoder.bias';
    head = { dense: dense.weight, denseBias: dense.bias, norm: ln.weight, normBias: ln.bias, decoder, decoderBias: spec(biasName, [V], [`vocab_size=${V}`]) };
  } else if (lookup.has('classifier.out_proj.weight')) {
    throw new CheckpointError(
      `${lookup.fileOf('classifier.out_proj.weight')}: has classifier.out_proj.weight but config.json architectures ${JSON.stringify(config.architectures)} name no *ForSequenceClassification, so the label count is unknown`,
    );
  }
  return { embeddings, layers, pooler, kind, head };
}

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadMPNetWeights(config: MPNetConfig, lookup: TensorLookup) {
  const table = tensorTable(config, lookup);
  const { kind: _, ...tensors } = table;
  const summary = checkTable(lookup, specsOf(tensors));
  const h = table.head;
  let head: MPNetHeadWeights = { kind: 'none' };
  if (table.kind === 'mlm') {
    head = Object.defineProperties({ kind: 'mlm' as const }, Object.getOwnPropertyDescriptors(lazySection(lookup, { dense: h.dense, denseBias: h.denseBias, norm: h.norm, normBias: h.normBias, decoder: h.decoder, decoderBias: h.decoderBias }))) as MPNetHeadWeights;
  } else if (table.kind === 'classification') {
    head = Object.defineProperties({ kind: 'classification' as const }, Object.getOwnPropertyDescriptors(lazySection(lookup, { dense: h.dense, denseBias: h.denseBias, weight: h.weight, bias: h.bias }))) as MPNetHeadWeights;
  }
  const t = table.embeddings;
  const e = lazySection(lookup, {
    wordEmbeddings: t.word,
    positionEmbeddings: t.position,
    embeddingNorm: t.norm.weight,
    embeddingNormBias: t.norm.bias,
    relativeBias: t.relativeBias,
  });
  const weights: MPNetWeights = Object.defineProperties(
    { layers: table.layers.map((l) => lazyPostLNLayer(lookup, l)), pooler: table.pooler ? lazySection(lookup, table.pooler) : null, head },
    Object.getOwnPropertyDescriptors(e),
  ) as MPNetWeights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU: BERT's post-LN layer stack with the relative bias in its attention kernel.

type HeadTensors =
  | { kind: 'none' }
  | { kind: 'mlm'; dense: GPUTensor; denseBias: GPUTensor; norm: GPUTensor; normBias: GPUTensor; decoder: RowChunkedLinear }
  | { kind: 'classification'; dense: GPUTensor; denseBias: GPUTensor; weight: GPUTensor; bias: GPUTensor };

/** Every pipeline a forward of this checkpoint uses, compiled once (only the variants it needs). */
function createKernels(arena: WeightArena, config: MPNetConfig, weights: MPNetWeights) {
  const { device, dtype: weightDtype, options } = arena;
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic: modelArithmetic(device, options) };
  const head = weights.head.kind;
  return arena.kernels({
    ...postLNKernelSpecs(arena, config, config.activation, { relativeBias: true }),
    embedding: EmbeddingKernel.create(device, config.hiddenSize, { positions: true }), // word + position
    matmulBiasTanh: weights.pooler !== null || head === 'classification' ? MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }) : null,
    matmulBiasGelu: head === 'mlm' ? MatmulKernel.create(device, { ...m, bias: true, activation: 'gelu' }) : null, // lm_head: exact GELU
    gather: head === 'mlm' ? EmbeddingKernel.create(device, config.hiddenSize) : null,
  });
}

export class MPNetModel implements EncoderModel {
  /** Real tokens use position rows 2.. (padding index 1 + 1). */
  readonly positionOffset = MPNET_PADDING_IDX + 1;

  private constructor(
    readonly device: GPUDevice,
    readonly config: MPNetConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly kernels: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: { word: EmbeddingTable; position: GPUTensor; norm: GPUTensor; normBias: GPUTensor; relativeBias: GPUTensor },
    private readonly layers: PostLNLayerTensors[],
    private readonly pooler: { weight: GPUTensor; bias: GPUTensor } | null,
    private readonly head: HeadTensors,
    readonly dtype: ModelDtype,
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.bias.shape[0] : 0;
  }

  get hasPooler(): boolean {
    return this.pooler !== null;
  }

  static async create(device: GPUDevice, config: MPNetConfig, weights: MPNetWeights, options: ModelOptions = {}): Promise<MPNetModel> {
    const { hiddenSize: C, numHeads: H, vocabSize: V } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, weights);
    const layers = await uploadPostLNLayers(arena, config, weights.layers);
    const embeddings = {
      word: arena.embeddingTable('word_embeddings', weights.wordEmbeddings, V, C),
      position: arena.tensor('position_embeddings', weights.positionEmbeddings, [config.maxPositionEmbeddings, C]),
      norm: arena.tensor('embeddings.norm', weights.embeddingNorm, [C]),
      normBias: arena.tensor('embeddings.norm.bias', weights.embeddingNormBias, [C]),
      relativeBias: arena.tensor('relative_attention_bias', weights.relativeBias, [config.relativeBuckets, H]),
    };
    const pooler = weights.pooler && { weight: arena.weight('pooler', weights.pooler.weight, [C, C]), bias: arena.tensor('pooler.bias', weights.pooler.bias, [C]) };
    let head: HeadTensors = { kind: 'none' };
    const w = weights.head;
    if (w.kind === 'mlm') {
      head = {
        kind: 'mlm',
        dense: arena.weight('mlm.dense', w.dense, [C, C]),
        denseBias: arena.tensor('mlm.dense.bias', w.denseBias, [C]),
        norm: arena.tensor('mlm.norm', w.norm, [C]),
        normBias: arena.tensor('mlm.norm.bias', w.normBias, [C]),
        decoder: arena.rowChunkedLinear('mlm.decoder', w.decoder, w.decoderBias, V, C),
      };
    } else if (w.kind === 'classification') {
      const labels = w.bias.length;
      head = {
        kind: 'classification',
        dense: arena.weight('classifier.dense', w.dense, [C, C]),
        denseBias: arena.tensor('classifier.dense.bias', w.denseBias, [C]),
        weight: arena.weight('classifier', w.weight, [labels, C]),
        bias: arena.tensor('classifier.bias', w.bias, [labels]),
      };
    }
    return new MPNetModel(device, config, arena, kernels, embeddings, layers, pooler, head, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * N tokens in S sequences; C hidden, H heads of D, I intermediate, V vocabulary. Post-LN:
   * x = LN(x + o(attn(x) + relative bias)); x = LN(x + W2 act(W1 x + b1) + b2).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, layerNormEps: eps } = this.config;
    const k = this.kernels;
    const N = tokens;
    const S = sequences;
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: false });
    const { alloc, dispatches: d, inputs } = p;
    const buf = allocPostLNBuffers(alloc, N, this.config);
    const e = this.embeddings;

    d.push(...embeddingDispatches(k.embedding, 'embedding', inputs.inputIds, e.word, buf.sum, { positions: inputs.positions, positionTable: e.position })); // (N, C)
    d.push(k.layerNorm.createDispatch('embedding_norm', buf.sum, e.norm, e.normBias, buf.xA, eps)); // (N, C)
    postLNLayerDispatches(d, k, this.layers, buf, inputs, eps, { relativeBias: e.relativeBias }); // (N, C) last
    const last = buf.last;
    const pooled = pooledOutputs(alloc, d, k, last, inputs.attentionMask, inputs.sequenceTable); // (S, C) x4
    let poolerOutput: GPUTensor | null = null;
    if (this.pooler) {
      poolerOutput = alloc('pooler_output', [S, C]); // (S, C) tanh(cls Wp^T + bp)
      d.push(k.matmulBiasTanh!.createDispatch('pooler', pooled.pooledCls, this.pooler.weight, poolerOutput, { bias: this.pooler.bias }));
    }

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      const rows = logitRowsInput(alloc, d, k.gather!, last, options.logitRows); // (M, C)
      logitRows = rows.rows;
      const M = rows.input.shape[0];
      const t = alloc('mlm_transform', [M, C]); // (M, C) gelu(last Wd^T + bd)
      const tn = alloc('mlm_transform_norm', [M, C]); // (M, C)
      logits = alloc('logits', [M, this.config.vocabSize]); // (M, V)
      d.push(k.matmulBiasGelu!.createDispatch('mlm_dense', rows.input, head.dense, t, { bias: head.denseBias }));
      d.push(k.layerNorm.createDispatch('mlm_norm', t, head.norm, head.normBias, tn, eps));
      d.push(...linearDispatches(k.matmulBias, 'mlm_decoder', tn, head.decoder, logits)); // (M, V)
    } else if (options.logits && head.kind === 'classification') {
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      const dense = alloc('classifier_dense', [S, C]); // (S, C) tanh(cls Wd^T + bd)
      d.push(k.matmulBiasTanh!.createDispatch('classifier_dense', pooled.pooledCls, head.dense, dense, { bias: head.denseBias }));
      d.push(k.matmulBias.createDispatch('classifier', dense, head.weight, logits, { bias: head.bias }));
    }
    return p.finish({ lastHiddenState: last, pooled, poolerOutput, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

export const mpnet: Architecture<MPNetConfig, MPNetWeights> = {
  name: 'MPNet',
  modelTypes: ['mpnet'],
  parseConfig: parseMPNetConfig,
  loadWeights: loadMPNetWeights,
  createModel: (device, config, weights, options) => MPNetModel.create(device, config, weights, options),
  layerMatmuls: postLNLayerMatmuls,
};
