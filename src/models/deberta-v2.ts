// DeBERTa-v2 / DeBERTa-v3 / mDeBERTa-v3 (microsoft/deberta-v3-base, protectai/deberta-v3-base-
// prompt-injection-v2, meta-llama/Prompt-Guard-86M; Hugging Face transformers' modeling_deberta_v2):
// a post-LayerNorm BERT-order encoder without absolute positions whose attention is disentangled:
// scores = (q.k + q.Kr[idx] (c2p) + k.Qr[idx] (p2c)) / sqrt(3 D), idx the log-bucketed relative
// position of (query, key), Kr / Qr the layer's own key / query projections (share_att_key) of the
// layer-normed relative embeddings. Kr and Qr do not depend on the input: they are computed once per
// layer on the GPU when the model is created. Per forward and layer, relative_scores gives c2p and
// p2c for every token and relative row (O(N * 2 span) per head) and attention_disentangled gathers
// them per (query, key). ContextPooler (dense + act on token 0) -> classifier; legacy MLM head.
// This file is the whole architecture: config, checkpoint table, forward plan.
import { ConfigReader } from '../config';
import { CheckpointError } from '../errors';
import {
  DisentangledAttentionKernel,
  EmbeddingKernel,
  L2NormKernel,
  LayerNormKernel,
  MatmulKernel,
  PoolingKernel,
  RelativeScoresKernel,
  RopeQkvKernel,
  type Dispatch,
  type GPUTensor,
  type MatmulActivation,
} from '../kernels';
import { createStorageBuffer } from '../gpu';
import { debertaBucketTable, relativeRowWindow } from '../tables';
import { checkNoExtraLayer, checkTable, detectPrefix, lazySection, linearSpec, normSpec, specsOf, tensorSpec as spec, type TensorLookup, type TensorSpec } from '../tensor-table';
import { allocPostLNBuffers, lazyPostLNLayer, postLNLayerMatmuls, postLNLayerTable, uploadPostLNLayers, type BertLayerWeights, type PostLNLayerNames, type PostLNLayerTensors } from './bert';
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
  tanh: 'tanh',
};

/** No position table limits the length; this bounds one sequence (the c2p / p2c buffers grow as N * 2 span). */
const DEBERTA_MAX_LENGTH = 8192;

export interface DebertaV2Config extends EncoderConfig {
  intermediateSize: number;
  activation: MatmulActivation;
  poolerActivation: MatmulActivation;
  layerNormEps: number;
  /** position_buckets (> 0: log buckets) */
  positionBuckets: number;
  /** max_relative_positions resolved (-1 -> max_position_embeddings) */
  maxRelativePositions: number;
  /** Relative embedding rows used: 2 * (position_buckets > 0 ? position_buckets : max_relative_positions). */
  relativeRows: number;
  /** norm_rel_ebd contains "layer_norm": encoder.LayerNorm applies to the relative embeddings. */
  normRelativeEmbeddings: boolean;
}

export function parseDebertaV2Config(json: unknown, where: string): DebertaV2Config {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'deberta-v2';
  if (modelType !== 'deberta-v2') {
    r.fail(`model_type is ${JSON.stringify(modelType)}, expected "deberta-v2"${modelType === 'deberta' ? ' (DeBERTa v1 is not supported)' : ''}`);
  }
  const hiddenSize = r.integer('hidden_size', 1);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const intermediateSize = r.integer('intermediate_size', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const maxPositionEmbeddings = r.integer('max_position_embeddings', 1, 512);
  const layerNormEps = r.positive('layer_norm_eps', 1e-7);
  const hiddenAct = r.choice('hidden_act', Object.keys(ACTIVATIONS), 'gelu');
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0) r.fail(`hidden_size=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  // What this engine does not run, refused by name (README: not covered).
  if (!r.boolean('relative_attention', false)) r.fail('relative_attention is false: only DeBERTa with relative attention (v2/v3) is supported');
  if (r.boolean('position_biased_input', true)) r.fail('position_biased_input is true (absolute position embeddings): not supported; DeBERTa-v3 has false');
  if (!r.boolean('share_att_key', false)) r.fail('share_att_key is false (separate pos_key_proj / pos_query_proj): not supported; DeBERTa-v3 has true');
  if (r.has('conv_kernel_size') && r.integer('conv_kernel_size', 0) > 0) r.fail('conv_kernel_size > 0 (the ConvLayer of deberta-v2-xlarge/xxlarge) is not supported');
  if (r.has('embedding_size') && r.fields['embedding_size'] !== null && r.integer('embedding_size', 1) !== hiddenSize) {
    r.fail(`embedding_size=${r.fields['embedding_size']} differs from hidden_size=${hiddenSize} (embed_proj): not supported`);
  }
  if (r.has('attention_head_size') && r.fields['attention_head_size'] !== null && r.integer('attention_head_size', 1) !== headDim) {
    r.fail(`attention_head_size=${r.fields['attention_head_size']} differs from hidden_size / num_attention_heads = ${headDim}: not supported`);
  }
  const typeVocabSize = r.integer('type_vocab_size', 0, 0);
  if (typeVocabSize > 0) r.fail(`type_vocab_size=${typeVocabSize} (token type embeddings): not supported; DeBERTa-v3 has 0`);
  const rawTypes = r.fields['pos_att_type'] ?? ['p2c', 'c2p'];
  const types = typeof rawTypes === 'string' ? rawTypes.toLowerCase().split('|').map((t) => t.trim()) : rawTypes;
  if (!Array.isArray(types) || types.length !== 2 || !types.includes('c2p') || !types.includes('p2c')) {
    r.fail(`pos_att_type ${JSON.stringify(rawTypes)}: this engine runs ["p2c", "c2p"] (both terms, scale sqrt(3 d)) only`);
  }
  const positionBuckets = r.integer('position_buckets', -1, -1);
  const rawMaxRel = r.fields['max_relative_positions'] ?? -1;
  if (typeof rawMaxRel !== 'number' || !Number.isInteger(rawMaxRel)) r.fail(`max_relative_positions must be an integer, got ${JSON.stringify(rawMaxRel)}`);
  const maxRelativePositions = (rawMaxRel as number) < 1 ? maxPositionEmbeddings : (rawMaxRel as number);
  if (positionBuckets > 0 && maxRelativePositions - 1 <= positionBuckets / 2) {
    r.fail(`max_relative_positions=${maxRelativePositions} must exceed position_buckets / 2 + 1 = ${positionBuckets / 2 + 1} (the log buckets divide by log((max - 1) / mid))`);
  }
  const span = positionBuckets > 0 ? positionBuckets : maxRelativePositions;
  const normRel = r.fields['norm_rel_ebd'] ?? 'none';
  if (typeof normRel !== 'string') r.fail(`norm_rel_ebd must be a string, got ${JSON.stringify(normRel)}`);
  const normParts = (normRel as string).toLowerCase().split('|').map((t: string) => t.trim());
  if (normParts.some((p) => p !== 'layer_norm' && p !== 'none')) r.fail(`norm_rel_ebd ${JSON.stringify(normRel)}: expected "layer_norm" or "none"`);
  const poolerHidden = r.fields['pooler_hidden_size'] ?? hiddenSize;
  if (poolerHidden !== hiddenSize) r.fail(`pooler_hidden_size=${JSON.stringify(poolerHidden)} differs from hidden_size=${hiddenSize}: not supported`);
  const poolerAct = r.choice('pooler_hidden_act', Object.keys(ACTIVATIONS), 'gelu');
  if (r.fields['legacy'] === false) r.fail('legacy is false (the lm_predictions.lm_head MLM head): not supported; the legacy cls.predictions head is');
  const padTokenId = r.padTokenId(vocabSize, 0);
  const architectures = r.architectures();
  return {
    modelType: 'deberta-v2',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength: DEBERTA_MAX_LENGTH,
    padTokenId,
    typeVocabSize: 0,
    ignoredTokenTypes: 2,
    ...r.labels(architectures.some((a) => a.endsWith('ForSequenceClassification'))),
    intermediateSize,
    activation: ACTIVATIONS[hiddenAct],
    poolerActivation: ACTIVATIONS[poolerAct],
    layerNormEps,
    positionBuckets,
    maxRelativePositions,
    relativeRows: 2 * span,
    normRelativeEmbeddings: normParts.includes('layer_norm'),
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

/** DeBERTa's names for the post-LN layer's modules (BERT's layer order, its own names). */
const DEBERTA_LAYER_NAMES: PostLNLayerNames = {
  query: 'attention.self.query_proj',
  key: 'attention.self.key_proj',
  value: 'attention.self.value_proj',
  attentionOut: 'attention.output.dense',
  attentionNorm: 'attention.output.LayerNorm',
  intermediate: 'intermediate.dense',
  output: 'output.dense',
  outputNorm: 'output.LayerNorm',
};

export type DebertaV2HeadWeights =
  | { kind: 'none' }
  // cls.predictions: transform.dense -> hidden_act -> transform.LayerNorm -> tied decoder + bias
  | { kind: 'mlm'; dense: Float32Array; denseBias: Float32Array; norm: Float32Array; normBias: Float32Array; decoder: Float32Array; decoderBias: Float32Array }
  // ContextPooler pooler.dense -> pooler_hidden_act, then classifier
  | { kind: 'classification'; poolerDense: Float32Array; poolerDenseBias: Float32Array; weight: Float32Array; bias: Float32Array };

export interface DebertaV2Weights {
  wordEmbeddings: Float32Array; // [V, C]
  embeddingNorm: Float32Array; // [C]
  embeddingNormBias: Float32Array; // [C]
  relativeEmbeddings: Float32Array; // [R', C] encoder.rel_embeddings.weight (the first relativeRows used)
  relativeNorm: Float32Array | null; // [C] encoder.LayerNorm (norm_rel_ebd layer_norm)
  relativeNormBias: Float32Array | null;
  layers: BertLayerWeights[];
  head: DebertaV2HeadWeights;
}

function tensorTable(config: DebertaV2Config, lookup: TensorLookup) {
  const { hiddenSize: C, vocabSize: V, numLabels } = config;
  const prefix = detectPrefix(lookup, ['', 'deberta.'], 'embeddings.word_embeddings.weight', config.modelType);
  checkNoExtraLayer(lookup, (i) => `${prefix}encoder.layer.${i}.attention.self.query_proj.weight`, config.numLayers);
  for (const unsupported of [`${prefix}embeddings.position_embeddings.weight`, `${prefix}embeddings.embed_proj.weight`, `${prefix}encoder.conv.conv.weight`, `${prefix}encoder.layer.0.attention.self.pos_key_proj.weight`]) {
    if (lookup.has(unsupported)) throw new CheckpointError(`${lookup.fileOf(unsupported)}: has ${unsupported}, a DeBERTa module this engine does not apply (config.json says it is unused)`);
  }
  const hidden = `hidden_size=${C}`;
  const linear = (base: string, out: number, inp: number, because: string[]) => linearSpec(base, out, inp, because) as { weight: TensorSpec; bias: TensorSpec };
  const norm = (base: string, hint?: string) => normSpec(lookup, base, C, [hidden], { hint }) as { weight: TensorSpec; bias: TensorSpec };
  const e = `${prefix}embeddings`;
  const relName = `${prefix}encoder.rel_embeddings.weight`;
  // rel_embeddings may have more rows than the 2 x span the attention reads (the first ones are used).
  const relRows = lookup.has(relName) ? lookup.shapeOf(relName)[0] : config.relativeRows;
  if (relRows < config.relativeRows) {
    throw new CheckpointError(`${lookup.fileOf(relName)}: ${relName} has ${relRows} rows, fewer than the ${config.relativeRows} (2 x position span) the attention reads`);
  }
  const embeddings = {
    word: spec(`${e}.word_embeddings.weight`, [V, C], [`vocab_size=${V}`, hidden]),
    norm: norm(`${e}.LayerNorm`),
    relative: spec(relName, [relRows, C], [`position_buckets=${config.positionBuckets}`, `max_relative_positions=${config.maxRelativePositions}`, hidden]),
    relativeNorm: config.normRelativeEmbeddings ? norm(`${prefix}encoder.LayerNorm`, ' (norm_rel_ebd "layer_norm")') : null,
  };
  const layers = postLNLayerTable(lookup, config, (i) => `${prefix}encoder.layer.${i}.`, DEBERTA_LAYER_NAMES);

  let kind: HeadKind = 'none';
  let head: Record<string, TensorSpec> = {};
  if (config.numLabels !== null) {
    kind = 'classification';
    const pooler = linear('pooler.dense', C, C, [hidden]);
    const out = linear('classifier', numLabels!, C, [`num_labels=${numLabels}`, hidden]);
    head = { poolerDense: pooler.weight, poolerDenseBias: pooler.bias, weight: out.weight, bias: out.bias };
  } else if (lookup.has('cls.predictions.transform.dense.weight')) {
    kind = 'mlm';
    const dense = linear('cls.predictions.transform.dense', C, C, [hidden]);
    const ln = norm('cls.predictions.transform.LayerNorm');
    const decoder = lookup.has('cls.predictions.decoder.weight') ? spec('cls.predictions.decoder.weight', [V, C], [`vocab_size=${V}`, hidden]) : embeddings.word;
    const biasName = lookup.has('cls.predictions.bias') ? 'cls.predictions.bias' : 'cls.predictions.decoder.bias';
    head = { dense: dense.weight, denseBias: dense.bias, norm: ln.weight, normBias: ln.bias, decoder, decoderBias: spec(biasName, [V], [`vocab_size=${V}`]) };
  } else if (lookup.has('classifier.weight')) {
    throw new CheckpointError(
      `${lookup.fileOf('classifier.weight')}: has classifier.weight but config.json architectures ${JSON.stringify(config.architectures)} name no *ForSequenceClassification, so the label count is unknown`,
    );
  } else if (lookup.has('lm_predictions.lm_head.dense.weight')) {
    throw new CheckpointError(`${lookup.fileOf('lm_predictions.lm_head.dense.weight')}: the non-legacy MLM head (lm_predictions.lm_head.*) is not supported`);
  }
  return { embeddings, layers, kind, head };
}

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadDebertaV2Weights(config: DebertaV2Config, lookup: TensorLookup) {
  const table = tensorTable(config, lookup);
  const { kind: _, ...tensors } = table;
  const summary = checkTable(lookup, specsOf(tensors));
  const t = table.embeddings;
  const h = table.head;
  let head: DebertaV2HeadWeights = { kind: 'none' };
  if (table.kind === 'mlm') {
    head = Object.defineProperties({ kind: 'mlm' as const }, Object.getOwnPropertyDescriptors(lazySection(lookup, { dense: h.dense, denseBias: h.denseBias, norm: h.norm, normBias: h.normBias, decoder: h.decoder, decoderBias: h.decoderBias }))) as DebertaV2HeadWeights;
  } else if (table.kind === 'classification') {
    head = Object.defineProperties({ kind: 'classification' as const }, Object.getOwnPropertyDescriptors(lazySection(lookup, { poolerDense: h.poolerDense, poolerDenseBias: h.poolerDenseBias, weight: h.weight, bias: h.bias }))) as DebertaV2HeadWeights;
  }
  const e = lazySection(lookup, {
    wordEmbeddings: t.word,
    embeddingNorm: t.norm.weight,
    embeddingNormBias: t.norm.bias,
    relativeEmbeddings: t.relative,
    relativeNorm: t.relativeNorm?.weight ?? null,
    relativeNormBias: t.relativeNorm?.bias ?? null,
  });
  const weights: DebertaV2Weights = Object.defineProperties({ layers: table.layers.map((l) => lazyPostLNLayer(lookup, l)), head }, Object.getOwnPropertyDescriptors(e)) as DebertaV2Weights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

type HeadTensors =
  | { kind: 'none' }
  | { kind: 'mlm'; dense: GPUTensor; denseBias: GPUTensor; norm: GPUTensor; normBias: GPUTensor; decoder: RowChunkedLinear }
  | { kind: 'classification'; poolerDense: GPUTensor; poolerDenseBias: GPUTensor; weight: GPUTensor; bias: GPUTensor };

/** Every pipeline a forward of this checkpoint uses, compiled once (only the variants it needs). */
function createKernels(arena: WeightArena, config: DebertaV2Config, weights: DebertaV2Weights) {
  const { device, dtype: weightDtype, options } = arena;
  const { hiddenSize: C, numHeads: H, headDim: D } = config;
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic: modelArithmetic(device, options) };
  const head = weights.head.kind;
  return arena.kernels({
    embedding: EmbeddingKernel.create(device, C), // word only
    layerNorm: LayerNormKernel.create(device, { bias: true }),
    matmulBias: MatmulKernel.create(device, { ...m, bias: true }),
    matmulBiasResidual: MatmulKernel.create(device, { ...m, bias: true, residual: true }),
    matmulBiasAct: MatmulKernel.create(device, { ...m, bias: true, activation: config.activation }), // hidden_act
    matmulBiasPoolerAct: head === 'classification' ? MatmulKernel.create(device, { ...m, bias: true, activation: config.poolerActivation }) : null,
    split: RopeQkvKernel.create(device, H, D, { rope: false }), // f32 q/k/v: the disentangled kernels are f32 only
    relativeScores: RelativeScoresKernel.create(device, H, D),
    attention: DisentangledAttentionKernel.create(device, H, D),
    pooling: PoolingKernel.create(device),
    l2norm: L2NormKernel.create(device),
    gather: head === 'mlm' ? EmbeddingKernel.create(device, C) : null,
  });
}

export class DebertaV2Model implements EncoderModel {
  /** No absolute positions (the positions table is unused). */
  readonly positionOffset = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly config: DebertaV2Config,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly kernels: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: { word: EmbeddingTable; norm: GPUTensor; normBias: GPUTensor; bucketTable: GPUTensor },
    private readonly layers: (PostLNLayerTensors & { relProj: GPUTensor /* (2, H, R, D) Kr, Qr */ })[],
    private readonly head: HeadTensors,
    readonly dtype: ModelDtype,
    /** debertaBucketTable's table (host copy, for the per-call row window). */
    private readonly bucketTable: Uint32Array,
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.bias.shape[0] : 0;
  }

  /** The ContextPooler of a sequence classifier (its output is pooler_output). */
  get hasPooler(): boolean {
    return this.head.kind === 'classification';
  }

  static async create(device: GPUDevice, config: DebertaV2Config, weights: DebertaV2Weights, options: ModelOptions = {}): Promise<DebertaV2Model> {
    const { hiddenSize: C, numHeads: H, headDim: D, vocabSize: V, relativeRows: R, layerNormEps: eps } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, weights);
    const layers = await uploadPostLNLayers(arena, config, weights.layers);

    // The relative embeddings, layer-normed once (shared by every layer), then each layer's own
    // query/key projections of them (biases included): input-independent, so computed here once per
    // layer on the GPU, not per forward. The temporaries are freed when done.
    const temporaries: GPUTensor[] = [];
    const temp = (label: string, shape: number[], data?: Float32Array) => {
      const t: GPUTensor = data
        ? { label, shape, buffer: createStorageBuffer(device, label, data.byteLength) }
        : { label, shape, buffer: createStorageBuffer(device, label, shape.reduce((a, b) => a * b, 4)) };
      if (data) device.queue.writeBuffer(t.buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
      temporaries.push(t);
      return t;
    };
    const relRaw = temp('rel_embeddings', [R, C], weights.relativeEmbeddings.slice(0, R * C)); // (R, C)
    const setup: Dispatch[] = [];
    let rel = relRaw;
    if (weights.relativeNorm && weights.relativeNormBias) {
      rel = temp('rel_embeddings_norm', [R, C]); // (R, C) LayerNorm(rel)
      const g = temp('rel_norm.weight', [C], weights.relativeNorm.slice());
      const b = temp('rel_norm.bias', [C], weights.relativeNormBias.slice());
      setup.push(kernels.layerNorm.createDispatch('rel_norm', relRaw, g, b, rel, eps));
    }
    const relQkv = temp('rel_qkv', [R, 3 * C]); // (R, 3C)
    const relQ = temp('rel_q', [H, R, D]); // (H, R, D) Qr
    const relK = temp('rel_k', [H, R, D]); // (H, R, D) Kr
    const relV = temp('rel_v', [H, R, D]); // unused
    const half = H * R * D * 4;
    const withRel = [];
    for (const [i, w] of layers.entries()) {
      const relProj = arena.keep({ label: `layer${i}.rel_proj`, shape: [2, H, R, D], buffer: createStorageBuffer(device, `layer${i}.rel_proj`, 2 * half) });
      setup.push(kernels.matmulBias.createDispatch(`layer${i}.rel_qkv`, rel, w.qkv, relQkv, { bias: w.qkvBias }));
      setup.push(kernels.split.createDispatch(`layer${i}.rel_split`, relQkv, null, null, relQ, relK, relV));
      const encoder = device.createCommandEncoder({ label: `layer${i}.rel_projections` });
      const pass = encoder.beginComputePass();
      for (const d of setup) d.encode(pass);
      pass.end();
      encoder.copyBufferToBuffer(relK.buffer, 0, relProj.buffer, 0, half);
      encoder.copyBufferToBuffer(relQ.buffer, 0, relProj.buffer, half, half);
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      for (const d of setup) d.destroy?.();
      setup.length = 0;
      withRel.push({ ...w, relProj });
    }
    for (const t of temporaries) t.buffer.destroy();

    const { table } = debertaBucketTable(config.positionBuckets, config.maxRelativePositions);
    const embeddings = {
      word: arena.embeddingTable('word_embeddings', weights.wordEmbeddings, V, C),
      norm: arena.tensor('embeddings.norm', weights.embeddingNorm, [C]),
      normBias: arena.tensor('embeddings.norm.bias', weights.embeddingNormBias, [C]),
      bucketTable: arena.tensor('relative_bucket_table', table, [table.length]),
    };
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
        poolerDense: arena.weight('pooler.dense', w.poolerDense, [C, C]),
        poolerDenseBias: arena.tensor('pooler.dense.bias', w.poolerDenseBias, [C]),
        weight: arena.weight('classifier', w.weight, [labels, C]),
        bias: arena.tensor('classifier.bias', w.bias, [labels]),
      };
    }
    return new DebertaV2Model(device, config, arena, kernels, embeddings, withRel, head, dtype, table);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V, numHeads: H, relativeRows: R } = this.config;
    // The widest per-token row is c2p + p2c (2 H R floats): 12 x 512 x 2 in DeBERTa-v3-base, vs 3C = 2304.
    return maxTokensForWidth(this.device, Math.max(3 * C, I, 2 * H * R, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * N tokens in S sequences; C hidden, H heads of D, I intermediate, R = 2 span relative rows.
   * x = LN(word(ids)); per layer: x = LN(x + o(disentangled(x))); x = LN(x + W2 act(W1 x + b1) + b2).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, layerNormEps: eps, relativeRows: R } = this.config;
    const k = this.kernels;
    const N = tokens;
    const S = sequences;
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: false });
    const { alloc, dispatches: d, inputs } = p;
    const buf = allocPostLNBuffers(alloc, N, this.config);
    const rel = alloc('c2p_p2c', [2, H, N, R]); // (2, H, N, R) q Kr^T, k Qr^T
    const e = this.embeddings;
    // (4) u32 per call: the relative rows this batch's longest sequence reaches (short prompts need few of the 2 span).
    const relRows = p.hostInput('relative_rows', [4], (layout) =>
      relativeRowWindow(this.bucketTable, R / 2, layout.ranges.reduce((m, r) => Math.max(m, r.length), 0)),
    );
    const scale = 1 / Math.fround(Math.sqrt(Math.fround(D * 3))); // transformers: sqrt(float32(d) * 3)

    d.push(...embeddingDispatches(k.embedding, 'embedding', inputs.inputIds, e.word, buf.sum)); // (N, C)
    // (transformers then zeroes padded rows; they are masked keys everywhere, so no real row reads them)
    d.push(k.layerNorm.createDispatch('embedding_norm', buf.sum, e.norm, e.normBias, buf.xA, eps)); // (N, C)
    const { xA, xB, sum, qkv, q, k: kk, v, attn, inter, last } = buf;
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      const out = i === this.layers.length - 1 ? last : xA;
      d.push(k.matmulBias.createDispatch(`${L}.qkv`, xA, w.qkv, qkv, { bias: w.qkvBias })); // (N, 3C)
      d.push(k.split.createDispatch(`${L}.split`, qkv, null, null, q, kk, v)); // (H, N, D) x3
      d.push(k.relativeScores.createDispatch(`${L}.c2p_p2c`, q, kk, w.relProj, rel, relRows)); // (2, H, N, R), rows in the window
      d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, inputs.attentionMask, inputs.attentionTiles, rel, e.bucketTable, attn, scale)); // (N, C)
      d.push(k.matmulBiasResidual.createDispatch(`${L}.attention_out`, attn, w.attentionOut, sum, { bias: w.attentionOutBias, residual: xA })); // (N, C)
      d.push(k.layerNorm.createDispatch(`${L}.attention_norm`, sum, w.attentionNorm, w.attentionNormBias, xB, eps)); // (N, C)
      d.push(k.matmulBiasAct.createDispatch(`${L}.intermediate`, xB, w.intermediate, inter, { bias: w.intermediateBias })); // (N, I)
      d.push(k.matmulBiasResidual.createDispatch(`${L}.output`, inter, w.output, sum, { bias: w.outputBias, residual: xB })); // (N, C)
      d.push(k.layerNorm.createDispatch(`${L}.output_norm`, sum, w.outputNorm, w.outputNormBias, out, eps)); // (N, C)
    });
    const pooled = pooledOutputs(alloc, d, k, last, inputs.attentionMask, inputs.sequenceTable); // (S, C) x4
    let poolerOutput: GPUTensor | null = null;
    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (head.kind === 'classification') {
      poolerOutput = alloc('pooler_output', [S, C]); // (S, C) act(cls Wp^T + bp), the ContextPooler
      d.push(k.matmulBiasPoolerAct!.createDispatch('pooler', pooled.pooledCls, head.poolerDense, poolerOutput, { bias: head.poolerDenseBias }));
      if (options.logits) {
        logits = alloc('logits', [S, this.numLabels]); // (S, labels)
        d.push(k.matmulBias.createDispatch('classifier', poolerOutput, head.weight, logits, { bias: head.bias }));
      }
    } else if (options.logits && head.kind === 'mlm') {
      const rows = logitRowsInput(alloc, d, k.gather!, last, options.logitRows); // (M, C)
      logitRows = rows.rows;
      const M = rows.input.shape[0];
      const t = alloc('mlm_transform', [M, C]); // (M, C) act(last Wd^T + bd)
      const tn = alloc('mlm_transform_norm', [M, C]); // (M, C)
      logits = alloc('logits', [M, this.config.vocabSize]); // (M, V)
      d.push(k.matmulBiasAct.createDispatch('mlm_dense', rows.input, head.dense, t, { bias: head.denseBias }));
      d.push(k.layerNorm.createDispatch('mlm_norm', t, head.norm, head.normBias, tn, eps));
      d.push(...linearDispatches(k.matmulBias, 'mlm_decoder', tn, head.decoder, logits)); // (M, V)
    }
    return p.finish({ lastHiddenState: last, pooled, poolerOutput, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

export const debertaV2: Architecture<DebertaV2Config, DebertaV2Weights> = {
  name: 'DeBERTa-v2',
  modelTypes: ['deberta-v2'],
  parseConfig: parseDebertaV2Config,
  loadWeights: loadDebertaV2Weights,
  createModel: (device, config, weights, options) => DebertaV2Model.create(device, config, weights, options),
  layerMatmuls: postLNLayerMatmuls,
};
