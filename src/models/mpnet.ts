// MPNet (microsoft/mpnet-base, sentence-transformers/all-mpnet-base-v2; Hugging Face transformers'
// modeling_mpnet): a post-LayerNorm BERT-like encoder without token types, fairseq positions
// (padding index 1 hard-coded: real tokens use rows 2..), and one T5-style bucketed relative
// position bias table [32, H] shared by every layer, added to the attention logits unscaled. The
// bucket is computed inside the attention kernel from (i - j) (kernels/attention*.wgsl, REL_BIAS),
// so no L x L bias exists and packed sequences keep O(L) memory.
// This file is the whole architecture: config, checkpoint table, forward plan.
import { ConfigReader } from '../config';
import { CheckpointError } from '../errors';
import {
  AttentionKernel,
  EmbeddingKernel,
  L2NormKernel,
  LayerNormKernel,
  MatmulKernel,
  PoolingKernel,
  RopeQkvKernel,
  type Dispatch,
  type GPUTensor,
  type MatmulActivation,
} from '../kernels';
import { interleaveQkvHeads } from '../weight-layout';
import { drainUploads } from '../gpu';
import { checkTensors, countDtypes, elementsOf, lazyTensors, type TensorLookup, type TensorSpec } from '../tensor-table';
import { destroyAll, embeddingDispatches, linearDispatches, logitRowsInput, modelArithmetic, pooledOutputs, planAllocator, uploadEmbeddingTable, uploadRowChunkedLinear, uploadTensor, uploadWeight, type EmbeddingTable, type RowChunkedLinear } from './common';
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

export interface MPNetLayerWeights {
  query: Float32Array; // [C, C] attention.attn.q
  queryBias: Float32Array;
  key: Float32Array; // [C, C] attention.attn.k
  keyBias: Float32Array;
  value: Float32Array; // [C, C] attention.attn.v
  valueBias: Float32Array;
  attentionOut: Float32Array; // [C, C] attention.attn.o
  attentionOutBias: Float32Array;
  attentionNorm: Float32Array; // [C] attention.LayerNorm
  attentionNormBias: Float32Array;
  intermediate: Float32Array; // [I, C]
  intermediateBias: Float32Array;
  output: Float32Array; // [C, I]
  outputBias: Float32Array;
  outputNorm: Float32Array; // [C] output.LayerNorm
  outputNormBias: Float32Array;
}

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
  layers: MPNetLayerWeights[];
  pooler: { weight: Float32Array; bias: Float32Array } | null;
  head: MPNetHeadWeights;
}

function tensorTable(config: MPNetConfig, lookup: TensorLookup) {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V, numHeads: H, numLabels } = config;
  // The layout comes from the tensor names: all-mpnet-base-v2's config says MPNetForMaskedLM over MPNetModel keys.
  const prefix = ['', 'mpnet.'].find((p) => lookup.has(`${p}embeddings.word_embeddings.weight`));
  if (prefix === undefined) {
    throw new CheckpointError(`${lookup.label}: no word embeddings (embeddings.word_embeddings.weight, with or without an mpnet. prefix); is this an MPNet checkpoint?`);
  }
  const extra = `${prefix}encoder.layer.${config.numLayers}.attention.attn.q.weight`;
  if (lookup.has(extra)) throw new CheckpointError(`${lookup.fileOf(extra)}: has tensor ${extra}, more layers than config.json num_hidden_layers=${config.numLayers}`);
  const hidden = `hidden_size=${C}`;
  const spec = (name: string, shape: number[], because: string[], missingHint = ''): TensorSpec => ({ name, shape, because, missingHint });
  const linear = (base: string, out: number, inp: number, because: string[], hint = '') => ({
    weight: spec(`${base}.weight`, [out, inp], because, hint),
    bias: spec(`${base}.bias`, [out], because, hint),
  });
  const norm = (base: string, hint = '') => ({ weight: spec(`${base}.weight`, [C], [hidden], hint), bias: spec(`${base}.bias`, [C], [hidden], hint) });
  const e = `${prefix}embeddings`;
  const embeddings = {
    word: spec(`${e}.word_embeddings.weight`, [V, C], [`vocab_size=${V}`, hidden]),
    position: spec(`${e}.position_embeddings.weight`, [config.maxPositionEmbeddings, C], [`max_position_embeddings=${config.maxPositionEmbeddings}`, hidden]),
    norm: norm(`${e}.LayerNorm`),
  };
  const relativeBias = spec(`${prefix}encoder.relative_attention_bias.weight`, [config.relativeBuckets, H], [
    `relative_attention_num_buckets=${config.relativeBuckets}`,
    `num_attention_heads=${H}`,
  ]);
  const hint = ` (config.json num_hidden_layers=${config.numLayers})`;
  const layers = Array.from({ length: config.numLayers }, (_, i) => {
    const p = `${prefix}encoder.layer.${i}`;
    return {
      query: linear(`${p}.attention.attn.q`, C, C, [hidden], hint),
      key: linear(`${p}.attention.attn.k`, C, C, [hidden], hint),
      value: linear(`${p}.attention.attn.v`, C, C, [hidden], hint),
      attentionOut: linear(`${p}.attention.attn.o`, C, C, [hidden], hint),
      attentionNorm: norm(`${p}.attention.LayerNorm`, hint),
      intermediate: linear(`${p}.intermediate.dense`, I, C, [`intermediate_size=${I}`, hidden], hint),
      output: linear(`${p}.output.dense`, C, I, [hidden, `intermediate_size=${I}`], hint),
      outputNorm: norm(`${p}.output.LayerNorm`, hint),
    };
  });
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
  return { embeddings, relativeBias, layers, pooler, kind, head };
}

export function loadMPNetWeights(config: MPNetConfig, lookup: TensorLookup) {
  const table = tensorTable(config, lookup);
  const specs: TensorSpec[] = [
    table.embeddings.word,
    table.embeddings.position,
    table.embeddings.norm.weight,
    table.embeddings.norm.bias,
    table.relativeBias,
    ...table.layers.flatMap((l) => Object.values(l).flatMap((p) => [p.weight, p.bias])),
    ...(table.pooler ? [table.pooler.weight, table.pooler.bias] : []),
    ...Object.values(table.head),
  ];
  checkTensors(lookup, specs);
  const lazy = <K extends string>(names: Record<K, TensorSpec>) =>
    lazyTensors(lookup, Object.fromEntries(Object.entries(names).map(([k, s]) => [k, (s as TensorSpec).name])) as Record<K, string>);
  const layers: MPNetLayerWeights[] = table.layers.map((l) =>
    lazy({
      query: l.query.weight,
      queryBias: l.query.bias,
      key: l.key.weight,
      keyBias: l.key.bias,
      value: l.value.weight,
      valueBias: l.value.bias,
      attentionOut: l.attentionOut.weight,
      attentionOutBias: l.attentionOut.bias,
      attentionNorm: l.attentionNorm.weight,
      attentionNormBias: l.attentionNorm.bias,
      intermediate: l.intermediate.weight,
      intermediateBias: l.intermediate.bias,
      output: l.output.weight,
      outputBias: l.output.bias,
      outputNorm: l.outputNorm.weight,
      outputNormBias: l.outputNorm.bias,
    }),
  );
  const h = table.head;
  let head: MPNetHeadWeights = { kind: 'none' };
  if (table.kind === 'mlm') {
    head = Object.defineProperties({ kind: 'mlm' as const }, Object.getOwnPropertyDescriptors(lazy({ dense: h.dense, denseBias: h.denseBias, norm: h.norm, normBias: h.normBias, decoder: h.decoder, decoderBias: h.decoderBias }))) as MPNetHeadWeights;
  } else if (table.kind === 'classification') {
    head = Object.defineProperties({ kind: 'classification' as const }, Object.getOwnPropertyDescriptors(lazy({ dense: h.dense, denseBias: h.denseBias, weight: h.weight, bias: h.bias }))) as MPNetHeadWeights;
  }
  const e = lazy({
    wordEmbeddings: table.embeddings.word,
    positionEmbeddings: table.embeddings.position,
    embeddingNorm: table.embeddings.norm.weight,
    embeddingNormBias: table.embeddings.norm.bias,
    relativeBias: table.relativeBias,
  });
  const weights: MPNetWeights = Object.defineProperties(
    { layers, pooler: table.pooler ? lazy({ weight: table.pooler.weight, bias: table.pooler.bias }) : null, head },
    Object.getOwnPropertyDescriptors(e),
  ) as MPNetWeights;
  const names = [...new Set(specs.map((s) => s.name))];
  return { weights, dtypes: countDtypes(lookup, names), parameterCount: elementsOf(lookup, names) };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

interface LayerTensors {
  qkv: GPUTensor; // (3C, C) rows per head [q_h; k_h; v_h] (interleaveQkvHeads)
  qkvBias: GPUTensor; // (3C)
  attentionOut: GPUTensor; // (C, C)
  attentionOutBias: GPUTensor; // (C)
  attentionNorm: GPUTensor; // (C)
  attentionNormBias: GPUTensor; // (C)
  intermediate: GPUTensor; // (I, C)
  intermediateBias: GPUTensor; // (I)
  output: GPUTensor; // (C, I)
  outputBias: GPUTensor; // (C)
  outputNorm: GPUTensor; // (C)
  outputNormBias: GPUTensor; // (C)
}

type HeadTensors =
  | { kind: 'none' }
  | { kind: 'mlm'; dense: GPUTensor; denseBias: GPUTensor; norm: GPUTensor; normBias: GPUTensor; decoder: RowChunkedLinear }
  | { kind: 'classification'; dense: GPUTensor; denseBias: GPUTensor; weight: GPUTensor; bias: GPUTensor };

interface Kernels {
  embedding: EmbeddingKernel; // word + position
  layerNorm: LayerNormKernel;
  matmulBias: MatmulKernel;
  matmulBiasResidual: MatmulKernel;
  matmulBiasAct: MatmulKernel; // hidden_act epilogue
  matmulBiasTanh: MatmulKernel;
  matmulBiasGelu: MatmulKernel; // lm_head: exact GELU whatever hidden_act says
  split: RopeQkvKernel;
  attention: AttentionKernel; // with the relative bias compiled in
  pooling: PoolingKernel;
  l2norm: L2NormKernel;
  gather: EmbeddingKernel;
}

export class MPNetModel implements EncoderModel {
  /** Real tokens use position rows 2.. (padding index 1 + 1). */
  readonly positionOffset = MPNET_PADDING_IDX + 1;

  private constructor(
    readonly device: GPUDevice,
    readonly config: MPNetConfig,
    private readonly kernels: Kernels,
    private readonly embeddings: { word: EmbeddingTable; position: GPUTensor; norm: GPUTensor; normBias: GPUTensor; relativeBias: GPUTensor },
    private readonly layers: LayerTensors[],
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
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, vocabSize: V } = config;
    const dtype = options.dtype ?? 'f32';
    const arithmetic = modelArithmetic(device, options);
    const m = { weightDtype: dtype, strategy: options.matmulStrategy, arithmetic };
    const [embedding, layerNorm, matmulBias, matmulBiasResidual, matmulBiasAct, matmulBiasTanh, matmulBiasGelu, split, attention, pooling, l2norm, gather] =
      await Promise.all([
        EmbeddingKernel.create(device, C, { positions: true }),
        LayerNormKernel.create(device, { bias: true }),
        MatmulKernel.create(device, { ...m, bias: true }),
        MatmulKernel.create(device, { ...m, bias: true, residual: true }),
        MatmulKernel.create(device, { ...m, bias: true, activation: config.activation }),
        MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }),
        MatmulKernel.create(device, { ...m, bias: true, activation: 'gelu' }),
        RopeQkvKernel.create(device, H, D, { rope: false, outputDtype: arithmetic }),
        AttentionKernel.create(device, H, D, { arithmetic, relativeBias: true }),
        PoolingKernel.create(device),
        L2NormKernel.create(device),
        EmbeddingKernel.create(device, C),
      ]);
    const kernels: Kernels = { embedding, layerNorm, matmulBias, matmulBiasResidual, matmulBiasAct, matmulBiasTanh, matmulBiasGelu, split, attention, pooling, l2norm, gather };
    const up = (label: string, data: Float32Array, shape: number[]) => uploadTensor(device, label, data, shape);
    const upW = (label: string, data: Float32Array, shape: number[]) => uploadWeight(device, dtype, label, data, shape);
    const layers: LayerTensors[] = [];
    for (const [i, w] of weights.layers.entries()) {
      const L = `layer${i}`;
      layers.push({
        qkv: upW(`${L}.qkv`, interleaveQkvHeads(w.query, w.key, w.value, H, D, C), [3 * C, C]),
        qkvBias: up(`${L}.qkv.bias`, interleaveQkvHeads(w.queryBias, w.keyBias, w.valueBias, H, D, 1), [3 * C]),
        attentionOut: upW(`${L}.attention_out`, w.attentionOut, [C, C]),
        attentionOutBias: up(`${L}.attention_out.bias`, w.attentionOutBias, [C]),
        attentionNorm: up(`${L}.attention_norm`, w.attentionNorm, [C]),
        attentionNormBias: up(`${L}.attention_norm.bias`, w.attentionNormBias, [C]),
        intermediate: upW(`${L}.intermediate`, w.intermediate, [I, C]),
        intermediateBias: up(`${L}.intermediate.bias`, w.intermediateBias, [I]),
        output: upW(`${L}.output`, w.output, [C, I]),
        outputBias: up(`${L}.output.bias`, w.outputBias, [C]),
        outputNorm: up(`${L}.output_norm`, w.outputNorm, [C]),
        outputNormBias: up(`${L}.output_norm.bias`, w.outputNormBias, [C]),
      });
      await drainUploads(device);
    }
    const embeddings = {
      word: uploadEmbeddingTable(device, 'word_embeddings', weights.wordEmbeddings, V, C, options.maxChunkRows),
      position: up('position_embeddings', weights.positionEmbeddings, [config.maxPositionEmbeddings, C]),
      norm: up('embeddings.norm', weights.embeddingNorm, [C]),
      normBias: up('embeddings.norm.bias', weights.embeddingNormBias, [C]),
      relativeBias: up('relative_attention_bias', weights.relativeBias, [config.relativeBuckets, H]),
    };
    const pooler = weights.pooler && { weight: upW('pooler', weights.pooler.weight, [C, C]), bias: up('pooler.bias', weights.pooler.bias, [C]) };
    let head: HeadTensors = { kind: 'none' };
    const w = weights.head;
    if (w.kind === 'mlm') {
      head = {
        kind: 'mlm',
        dense: upW('mlm.dense', w.dense, [C, C]),
        denseBias: up('mlm.dense.bias', w.denseBias, [C]),
        norm: up('mlm.norm', w.norm, [C]),
        normBias: up('mlm.norm.bias', w.normBias, [C]),
        decoder: uploadRowChunkedLinear(device, dtype, 'mlm.decoder', w.decoder, w.decoderBias, V, C, options.maxChunkRows),
      };
    } else if (w.kind === 'classification') {
      const labels = w.bias.length;
      head = {
        kind: 'classification',
        dense: upW('classifier.dense', w.dense, [C, C]),
        denseBias: up('classifier.dense.bias', w.denseBias, [C]),
        weight: upW('classifier', w.weight, [labels, C]),
        bias: up('classifier.bias', w.bias, [labels]),
      };
    }
    return new MPNetModel(device, config, kernels, embeddings, layers, pooler, head, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    let widest = Math.max(3 * C, I);
    if (options.logits && this.head.kind === 'mlm') widest = Math.max(widest, V);
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    return Math.floor(limit / (widest * 4));
  }

  /**
   * N tokens in S sequences; C hidden, H heads of D, I intermediate, V vocabulary. Post-LN:
   * x = LN(x + o(attn(x) with the relative bias)); x = LN(x + W2 act(W1 x + b1) + b2).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, layerNormEps: eps } = this.config;
    const k = this.kernels;
    const N = tokens;
    const S = sequences;
    const { alloc, tensors, destroy, dispatches } = planAllocator(this.device);
    const inputIds = alloc('input_ids', [N]); // (N) u32
    const attentionMask = alloc('attention_mask', [N]); // (N) u32
    const positions = alloc('positions', [N]); // (N) u32 = 2 + index within the sequence
    const attentionTiles = alloc('attention_tiles', [AttentionKernel.maxTiles(N, S), 4]); // (tiles, 4) u32
    const sequenceTable = alloc('sequence_table', [S, 4]); // (S, 4) u32
    const xA = alloc('residual_a', [N, C]); // (N, C) layer input / output
    const xB = alloc('residual_b', [N, C]); // (N, C) after the attention block's LayerNorm
    const sum = alloc('residual_sum', [N, C]); // (N, C) x + sublayer(x), before its LayerNorm
    const qkv = alloc('qkv', [N, 3 * C]); // (N, H*3*D)
    const q = alloc('q', [H, N, D]); // (H, N, D)
    const kk = alloc('k', [H, N, D]); // (H, N, D)
    const v = alloc('v', [H, N, D]); // (H, N, D)
    const attn = alloc('attention_out', [N, C]); // (N, H*D)
    const inter = alloc('intermediate', [N, I]); // (N, I)
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const e = this.embeddings;

    const d: Dispatch[] = dispatches;
    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, e.word, sum, { positions, positionTable: e.position })); // (N, C)
    d.push(k.layerNorm.createDispatch('embedding_norm', sum, e.norm, e.normBias, xA, eps)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      const out = i === this.layers.length - 1 ? last : xA;
      d.push(k.matmulBias.createDispatch(`${L}.qkv`, xA, w.qkv, qkv, { bias: w.qkvBias })); // (N, 3C)
      d.push(k.split.createDispatch(`${L}.split`, qkv, null, null, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, attentionMask, attentionTiles, attn, { relativeBias: e.relativeBias })); // (N, C)
      d.push(k.matmulBiasResidual.createDispatch(`${L}.attention_out`, attn, w.attentionOut, sum, { bias: w.attentionOutBias, residual: xA })); // (N, C)
      d.push(k.layerNorm.createDispatch(`${L}.attention_norm`, sum, w.attentionNorm, w.attentionNormBias, xB, eps)); // (N, C)
      d.push(k.matmulBiasAct.createDispatch(`${L}.intermediate`, xB, w.intermediate, inter, { bias: w.intermediateBias })); // (N, I)
      d.push(k.matmulBiasResidual.createDispatch(`${L}.output`, inter, w.output, sum, { bias: w.outputBias, residual: xB })); // (N, C)
      d.push(k.layerNorm.createDispatch(`${L}.output_norm`, sum, w.outputNorm, w.outputNormBias, out, eps)); // (N, C)
    });
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4
    let poolerOutput: GPUTensor | null = null;
    if (this.pooler) {
      poolerOutput = alloc('pooler_output', [S, C]); // (S, C) tanh(cls Wp^T + bp)
      d.push(k.matmulBiasTanh.createDispatch('pooler', pooled.pooledCls, this.pooler.weight, poolerOutput, { bias: this.pooler.bias }));
    }

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      const rows = logitRowsInput(alloc, d, k.gather, last, options.logitRows); // (M, C)
      logitRows = rows.rows;
      const M = rows.input.shape[0];
      const t = alloc('mlm_transform', [M, C]); // (M, C) gelu(last Wd^T + bd)
      const tn = alloc('mlm_transform_norm', [M, C]); // (M, C)
      logits = alloc('logits', [M, this.config.vocabSize]); // (M, V)
      d.push(k.matmulBiasGelu.createDispatch('mlm_dense', rows.input, head.dense, t, { bias: head.denseBias }));
      d.push(k.layerNorm.createDispatch('mlm_norm', t, head.norm, head.normBias, tn, eps));
      d.push(...linearDispatches(k.matmulBias, 'mlm_decoder', tn, head.decoder, logits)); // (M, V)
    } else if (options.logits && head.kind === 'classification') {
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      const dense = alloc('classifier_dense', [S, C]); // (S, C) tanh(cls Wd^T + bd)
      d.push(k.matmulBiasTanh.createDispatch('classifier_dense', pooled.pooledCls, head.dense, dense, { bias: head.denseBias }));
      d.push(k.matmulBias.createDispatch('classifier', dense, head.weight, logits, { bias: head.bias }));
    }

    return {
      tokens: N,
      sequences: S,
      options,
      inputIds,
      tokenTypeIds: null,
      attentionMask,
      positions,
      attentionTiles,
      sequenceTable,
      outputs: { lastHiddenState: last, ...pooled, poolerOutput, logits },
      logitRows,
      dispatches: d,
      tensors,
      destroy,
    };
  }

  destroy(): void {
    const { kind: _, ...rest } = this.head as HeadTensors & Record<string, unknown>;
    const head = Object.values(rest).flatMap((t) => (t && typeof t === 'object' && 'chunks' in t ? (t as RowChunkedLinear).chunks.flatMap((c) => [c.weight, c.bias]) : [t as GPUTensor | null]));
    destroyAll([
      ...this.embeddings.word.chunks.map((c) => c.table),
      this.embeddings.position,
      this.embeddings.norm,
      this.embeddings.normBias,
      this.embeddings.relativeBias,
      ...this.layers.flatMap((l) => Object.values(l)),
      this.pooler?.weight,
      this.pooler?.bias,
      ...head,
    ]);
    for (const kernel of Object.values(this.kernels)) kernel.destroy();
  }
}

export const mpnet: Architecture<MPNetConfig, MPNetWeights> = {
  name: 'MPNet',
  modelTypes: ['mpnet'],
  parseConfig: parseMPNetConfig,
  loadWeights: loadMPNetWeights,
  createModel: (device, config, weights, options) => MPNetModel.create(device, config, weights, options),
};
