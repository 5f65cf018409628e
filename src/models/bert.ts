// BERT, RoBERTa and XLM-RoBERTa (Hugging Face transformers' modeling_bert / modeling_roberta /
// modeling_xlm_roberta): post-LayerNorm encoder with absolute position and token-type embeddings,
// separate query/key/value Linear layers with biases, and a GELU (or relu/silu) FFN. RoBERTa and
// XLM-R are BERT with fairseq position ids (pad_token_id + 1 + index of the real token) and their
// own heads. This file is the whole architecture: config, checkpoint table, forward plan.
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
import { checkNoExtraLayer, checkTable, detectHead, detectPrefix, firstPresent, lazySection, linearSpec, normSpec, specsOf, tensorSpec as spec, type TensorLookup, type TensorSpec } from '../tensor-table';
import { embeddingDispatches, linearDispatches, logitRowsInput, maxTokensForWidth, modelArithmetic, pooledOutputs, PlanBuilder, WeightArena, type EmbeddingTable, type RowChunkedLinear } from './common';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

/** hidden_act values and the matmul epilogue that computes each (exact erf GELU for "gelu"). */
export const ACTIVATIONS: Record<string, MatmulActivation> = {
  gelu: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_fast: 'gelu_tanh',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
};

export type BertFlavour = 'bert' | 'roberta';

export interface BertConfig extends EncoderConfig {
  /** 'roberta' for model_type roberta and xlm-roberta: fairseq positions, RoBERTa heads. */
  flavour: BertFlavour;
  intermediateSize: number;
  hiddenAct: string;
  /** The matmul epilogue computing hidden_act. */
  activation: MatmulActivation;
  layerNormEps: number;
  maxPositionEmbeddings: number;
}

export function parseBertConfig(json: unknown, where: string): BertConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'bert';
  if (modelType !== 'bert' && modelType !== 'roberta' && modelType !== 'xlm-roberta') {
    r.fail(`model_type is ${JSON.stringify(modelType)}, expected "bert", "roberta" or "xlm-roberta"`);
  }
  const flavour: BertFlavour = modelType === 'bert' ? 'bert' : 'roberta';
  const hiddenSize = r.integer('hidden_size', 1);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const intermediateSize = r.integer('intermediate_size', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const maxPositionEmbeddings = r.integer('max_position_embeddings', 1);
  const typeVocabSize = r.integer('type_vocab_size', 1, 2);
  const layerNormEps = r.positive('layer_norm_eps', 1e-12);
  const hiddenAct = r.choice('hidden_act', Object.keys(ACTIVATIONS), 'gelu');
  const positionType = r.choice('position_embedding_type', ['absolute', 'relative_key', 'relative_key_query'], 'absolute');
  if (positionType !== 'absolute') r.fail(`position_embedding_type ${JSON.stringify(positionType)} is not supported; this engine runs "absolute" position embeddings`);
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0) r.fail(`hidden_size=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  const padTokenId = r.padTokenId(vocabSize, flavour === 'roberta' ? 1 : 0);
  // RoBERTa numbers real tokens from pad + 1, so pad + 1 rows of the table are never a real token's.
  const positionOffset = flavour === 'roberta' ? padTokenId + 1 : 0;
  const maxLength = maxPositionEmbeddings - positionOffset;
  if (maxLength < 1) r.fail(`max_position_embeddings=${maxPositionEmbeddings} leaves no position for a token after pad_token_id=${padTokenId} + 1`);
  const architectures = r.architectures();
  return {
    modelType: modelType as string,
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength,
    padTokenId,
    typeVocabSize,
    ...r.labels(architectures.some((a) => a.endsWith('ForSequenceClassification'))),
    flavour,
    intermediateSize,
    hiddenAct,
    activation: ACTIVATIONS[hiddenAct],
    layerNormEps,
    maxPositionEmbeddings,
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

/** Linear weights are row-major [out, in] as stored: y = x @ W^T. */
export interface BertLayerWeights {
  query: Float32Array; // [C, C]
  queryBias: Float32Array; // [C]
  key: Float32Array; // [C, C]
  keyBias: Float32Array; // [C]
  value: Float32Array; // [C, C]
  valueBias: Float32Array; // [C]
  attentionOut: Float32Array; // [C, C]
  attentionOutBias: Float32Array; // [C]
  attentionNorm: Float32Array; // [C] attention.output.LayerNorm
  attentionNormBias: Float32Array; // [C]
  intermediate: Float32Array; // [I, C]
  intermediateBias: Float32Array; // [I]
  output: Float32Array; // [C, I]
  outputBias: Float32Array; // [C]
  outputNorm: Float32Array; // [C] output.LayerNorm
  outputNormBias: Float32Array; // [C]
}

export type BertHeadWeights =
  | { kind: 'none' }
  | {
      // BERT cls.predictions / RoBERTa lm_head: dense -> act -> LayerNorm -> decoder (+ bias)
      kind: 'mlm';
      dense: Float32Array; // [C, C]
      denseBias: Float32Array; // [C]
      norm: Float32Array; // [C]
      normBias: Float32Array; // [C]
      decoder: Float32Array; // [V, C], the word embeddings when tied
      decoderBias: Float32Array; // [V]
    }
  | {
      // BERT: classifier on the pooler output. RoBERTa: dense -> tanh -> out_proj on <s>.
      kind: 'classification';
      dense: Float32Array | null; // [C, C] (RoBERTa)
      denseBias: Float32Array | null; // [C]
      weight: Float32Array; // [labels, C]
      bias: Float32Array; // [labels]
    };

export interface BertWeights extends BertEmbeddingWeights {
  layers: BertLayerWeights[];
  pooler: { weight: Float32Array; bias: Float32Array } | null; // [C, C], [C]
  head: BertHeadWeights;
}

/** Prefixes of the encoder in real exports: base models have none, task models their own. */
const ENCODER_PREFIXES = ['', 'bert.', 'roberta.', 'model.'];

/**
 * Hub names of a post-LN layer's modules, relative to the layer's prefix: BERT's here; other
 * files (DistilBERT) run the same layer under their own names.
 */
export interface PostLNLayerNames {
  query: string;
  key: string;
  value: string;
  attentionOut: string;
  attentionNorm: string;
  intermediate: string;
  output: string;
  outputNorm: string;
}

export const BERT_LAYER_NAMES: PostLNLayerNames = {
  query: 'attention.self.query',
  key: 'attention.self.key',
  value: 'attention.self.value',
  attentionOut: 'attention.output.dense',
  attentionNorm: 'attention.output.LayerNorm',
  intermediate: 'intermediate.dense',
  output: 'output.dense',
  outputNorm: 'output.LayerNorm',
};

/** The sizes a post-LN layer stack is made of. */
export interface PostLNDims {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
}

/** The specs of every post-LN layer: `${layerPrefix(i)}${names.role}.weight` / `.bias`. */
export function postLNLayerTable(
  lookup: TensorLookup,
  dims: PostLNDims,
  layerPrefix: (layer: number) => string,
  names: PostLNLayerNames,
  fields = { hidden: 'hidden_size', intermediate: 'intermediate_size', layers: 'num_hidden_layers' }, // config.json names, for messages
) {
  const { hiddenSize: C, intermediateSize: I } = dims;
  const hidden = `${fields.hidden}=${C}`;
  const inter = `${fields.intermediate}=${I}`;
  const hint = ` (config.json ${fields.layers}=${dims.numLayers})`;
  return Array.from({ length: dims.numLayers }, (_, i) => {
    const p = layerPrefix(i);
    const linear = (role: keyof PostLNLayerNames, out: number, inp: number, because: string[]) => linearSpec(`${p}${names[role]}`, out, inp, because, { hint }) as { weight: TensorSpec; bias: TensorSpec };
    const norm = (role: keyof PostLNLayerNames) => normSpec(lookup, `${p}${names[role]}`, C, [hidden], { hint }) as { weight: TensorSpec; bias: TensorSpec };
    return {
      query: linear('query', C, C, [hidden]),
      key: linear('key', C, C, [hidden]),
      value: linear('value', C, C, [hidden]),
      attentionOut: linear('attentionOut', C, C, [hidden]),
      attentionNorm: norm('attentionNorm'),
      intermediate: linear('intermediate', I, C, [inter, hidden]),
      output: linear('output', C, I, [hidden, inter]),
      outputNorm: norm('outputNorm'),
    };
  });
}

/** A layer of postLNLayerTable as lazy weights (each read when uploaded). */
export function lazyPostLNLayer(lookup: TensorLookup, l: ReturnType<typeof postLNLayerTable>[number]): BertLayerWeights {
  return lazySection(lookup, {
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
  });
}

/**
 * BERT-style embeddings under `base` ("embeddings", "bert.embeddings", ...): word [V, E],
 * absolute position [P, E], token type [T, E] (types 0: none, DistilBERT), LayerNorm [E]; E is
 * hidden_size, or ELECTRA's embedding_size (`width` names the config field).
 */
export function bertEmbeddingSpecs(lookup: TensorLookup, base: string, dims: { vocab: number; positions: number; types: number; width: number; widthField?: string }) {
  const { vocab: V, positions: P, types: T, width: E } = dims;
  const width = `${dims.widthField ?? 'hidden_size'}=${E}`;
  return {
    word: spec(`${base}.word_embeddings.weight`, [V, E], [`vocab_size=${V}`, width]),
    position: spec(`${base}.position_embeddings.weight`, [P, E], [`max_position_embeddings=${P}`, width]),
    tokenType: T > 0 ? spec(`${base}.token_type_embeddings.weight`, [T, E], [`type_vocab_size=${T}`, width]) : null,
    norm: normSpec(lookup, `${base}.LayerNorm`, E, [width]) as { weight: TensorSpec; bias: TensorSpec },
  };
}

/** Host weights of BERT-style embeddings (lazy: each read when uploaded). */
export interface BertEmbeddingWeights {
  wordEmbeddings: Float32Array; // [V, E]
  positionEmbeddings: Float32Array; // [P, E]
  tokenTypeEmbeddings: Float32Array | null; // [T, E]
  embeddingNorm: Float32Array; // [E]
  embeddingNormBias: Float32Array; // [E]
}

export function lazyBertEmbeddings(lookup: TensorLookup, e: ReturnType<typeof bertEmbeddingSpecs>): BertEmbeddingWeights {
  return lazySection(lookup, { wordEmbeddings: e.word, positionEmbeddings: e.position, tokenTypeEmbeddings: e.tokenType, embeddingNorm: e.norm.weight, embeddingNormBias: e.norm.bias });
}

/** Every tensor this checkpoint must have for its head, with the Hub names it uses. */
function tensorTable(config: BertConfig, lookup: TensorLookup) {
  const { hiddenSize: C, vocabSize: V, numLabels } = config;
  const prefix = detectPrefix(lookup, ENCODER_PREFIXES, 'embeddings.word_embeddings.weight', config.modelType);
  checkNoExtraLayer(lookup, (i) => `${prefix}encoder.layer.${i}.attention.self.query.weight`, config.numLayers);
  const hidden = `hidden_size=${C}`;
  const linear = (base: string, out: number, inp: number, because: string[]) => linearSpec(base, out, inp, because) as { weight: TensorSpec; bias: TensorSpec };
  const norm = (base: string) => normSpec(lookup, base, C, [hidden]) as { weight: TensorSpec; bias: TensorSpec };
  const embeddings = bertEmbeddingSpecs(lookup, `${prefix}embeddings`, { vocab: V, positions: config.maxPositionEmbeddings, types: config.typeVocabSize, width: C });
  const layers = postLNLayerTable(lookup, config, (i) => `${prefix}encoder.layer.${i}.`, BERT_LAYER_NAMES);
  const pooler = lookup.has(`${prefix}pooler.dense.weight`) ? linear(`${prefix}pooler.dense`, C, C, [hidden]) : null;

  const kind = detectHead(config, lookup, {
    mlm: [['cls.predictions.transform.dense.weight'], ['lm_head.dense.weight']],
    classifier: ['classifier.weight', 'classifier.out_proj.weight'],
  });
  let head: Record<string, TensorSpec | null> = {};
  if (kind === 'mlm') {
    const bertHead = lookup.has('cls.predictions.transform.dense.weight');
    const base = bertHead ? 'cls.predictions' : 'lm_head';
    const dense = linear(bertHead ? `${base}.transform.dense` : `${base}.dense`, C, C, [hidden]);
    const ln = norm(bertHead ? `${base}.transform.LayerNorm` : `${base}.layer_norm`);
    // The decoder is tied to the word embeddings; files written by save_pretrained drop it.
    const decoder = lookup.has(`${base}.decoder.weight`) ? spec(`${base}.decoder.weight`, [V, C], [`vocab_size=${V}`, hidden]) : embeddings.word;
    const biasName = firstPresent(lookup, [`${base}.bias`, `${base}.decoder.bias`]) ?? `${base}.bias`;
    head = { dense: dense.weight, denseBias: dense.bias, norm: ln.weight, normBias: ln.bias, decoder, decoderBias: spec(biasName, [V], [`vocab_size=${V}`]) };
  } else if (kind === 'classification') {
    const labels = `num_labels=${numLabels}`;
    if (config.flavour === 'bert') {
      if (!pooler) throw new CheckpointError(`${lookup.label}: a BertForSequenceClassification needs ${prefix}pooler.dense.weight (its classifier reads the pooler output)`);
      const out = linear('classifier', numLabels!, C, [labels, hidden]);
      head = { dense: null, denseBias: null, weight: out.weight, bias: out.bias };
    } else {
      const dense = linear('classifier.dense', C, C, [hidden]);
      const out = linear('classifier.out_proj', numLabels!, C, [labels, hidden]);
      head = { dense: dense.weight, denseBias: dense.bias, weight: out.weight, bias: out.bias };
    }
  }
  return { embeddings, layers, pooler, kind, head };
}

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadBertWeights(config: BertConfig, lookup: TensorLookup) {
  const table = tensorTable(config, lookup);
  const { kind: _, ...tensors } = table;
  const summary = checkTable(lookup, specsOf(tensors));
  const h = table.head as Record<string, TensorSpec>;
  let head: BertHeadWeights = { kind: 'none' };
  if (table.kind === 'mlm') {
    // A tied decoder is the word embeddings, read again at upload (the checkpoint stores it once).
    head = Object.assign(lazySection(lookup, { dense: h.dense, denseBias: h.denseBias, norm: h.norm, normBias: h.normBias, decoder: h.decoder, decoderBias: h.decoderBias }), { kind: 'mlm' as const });
  } else if (table.kind === 'classification') {
    head = Object.defineProperties({ kind: 'classification' as const }, Object.getOwnPropertyDescriptors(lazySection(lookup, { dense: h.dense, denseBias: h.denseBias, weight: h.weight, bias: h.bias }))) as BertHeadWeights;
  }
  const e = lazyBertEmbeddings(lookup, table.embeddings);
  const weights: BertWeights = Object.defineProperties(
    { layers: table.layers.map((l) => lazyPostLNLayer(lookup, l)), pooler: table.pooler ? lazySection(lookup, table.pooler) : null, head },
    Object.getOwnPropertyDescriptors(e),
  ) as BertWeights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU: the post-LN layer stack (shared with the files that run BERT's layer
// under other names), then BERT's embeddings, pooler and heads.

export interface PostLNLayerTensors {
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

/** Uploads the layers (q/k/v rows interleaved per head for the split kernel), one layer's staging at a time. */
export async function uploadPostLNLayers(arena: WeightArena, dims: PostLNDims, layers: BertLayerWeights[]): Promise<PostLNLayerTensors[]> {
  const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I } = dims;
  const out: PostLNLayerTensors[] = [];
  for (const [i, w] of layers.entries()) {
    const L = `layer${i}`;
    out.push({
      qkv: arena.weight(`${L}.qkv`, interleaveQkvHeads(w.query, w.key, w.value, H, D, C), [3 * C, C]),
      qkvBias: arena.tensor(`${L}.qkv.bias`, interleaveQkvHeads(w.queryBias, w.keyBias, w.valueBias, H, D, 1), [3 * C]),
      attentionOut: arena.weight(`${L}.attention_out`, w.attentionOut, [C, C]),
      attentionOutBias: arena.tensor(`${L}.attention_out.bias`, w.attentionOutBias, [C]),
      attentionNorm: arena.tensor(`${L}.attention_norm`, w.attentionNorm, [C]),
      attentionNormBias: arena.tensor(`${L}.attention_norm.bias`, w.attentionNormBias, [C]),
      intermediate: arena.weight(`${L}.intermediate`, w.intermediate, [I, C]),
      intermediateBias: arena.tensor(`${L}.intermediate.bias`, w.intermediateBias, [I]),
      output: arena.weight(`${L}.output`, w.output, [C, I]),
      outputBias: arena.tensor(`${L}.output.bias`, w.outputBias, [C]),
      outputNorm: arena.tensor(`${L}.output_norm`, w.outputNorm, [C]),
      outputNormBias: arena.tensor(`${L}.output_norm.bias`, w.outputNormBias, [C]),
    });
    await drainUploads(arena.device); // one layer's staging copies at a time
  }
  return out;
}

/**
 * The kernels of the post-LN layer stack with FFN activation `activation` (specs for WeightArena.kernels).
 * attention.relativeBias: MPNet's bucketed relative bias compiled into the attention kernel.
 */
export function postLNKernelSpecs(arena: WeightArena, dims: PostLNDims, activation: MatmulActivation, attention: { relativeBias?: boolean } = {}) {
  const { device, dtype: weightDtype, options } = arena;
  const arithmetic = modelArithmetic(device, options);
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic };
  return {
    layerNorm: LayerNormKernel.create(device, { bias: true }),
    matmulBias: MatmulKernel.create(device, { ...m, bias: true }),
    matmulBiasResidual: MatmulKernel.create(device, { ...m, bias: true, residual: true }),
    matmulBiasAct: MatmulKernel.create(device, { ...m, bias: true, activation }), // hidden_act epilogue
    split: RopeQkvKernel.create(device, dims.numHeads, dims.headDim, { rope: false, outputDtype: arithmetic }), // qkv -> q, k, v head-major, no rotation
    attention: AttentionKernel.create(device, dims.numHeads, dims.headDim, { arithmetic, relativeBias: attention.relativeBias }),
    pooling: PoolingKernel.create(device),
    l2norm: L2NormKernel.create(device),
  };
}

/** The kernels postLNLayerDispatches uses (from postLNKernelSpecs). */
export interface PostLNKernels {
  layerNorm: LayerNormKernel;
  matmulBias: MatmulKernel;
  matmulBiasResidual: MatmulKernel;
  matmulBiasAct: MatmulKernel;
  split: RopeQkvKernel;
  attention: AttentionKernel;
}

/** The activations of the post-LN stack for N tokens (allocated in this order). */
export function allocPostLNBuffers(alloc: PlanBuilder['alloc'], N: number, dims: PostLNDims) {
  const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I } = dims;
  return {
    xA: alloc('residual_a', [N, C]), // (N, C) layer input / output
    xB: alloc('residual_b', [N, C]), // (N, C) after the attention block's LayerNorm
    sum: alloc('residual_sum', [N, C]), // (N, C) x + sublayer(x), before its LayerNorm
    qkv: alloc('qkv', [N, 3 * C]), // (N, H*3*D) per-head interleaved
    q: alloc('q', [H, N, D]), // (H, N, D)
    k: alloc('k', [H, N, D]), // (H, N, D)
    v: alloc('v', [H, N, D]), // (H, N, D)
    attn: alloc('attention_out', [N, C]), // (N, H*D) heads concatenated
    inter: alloc('intermediate', [N, I]), // (N, I) act(x W1^T + b1)
    last: alloc('last_hidden_state', [N, C]), // (N, C)
  };
}

/**
 * The layer stack on `buf.xA` (N, C), the LayerNormed embeddings; the last layer writes buf.last.
 * Post-LN: x = LN(x + attn(x)); x = LN(x + W2 act(W1 x + b1) + b2). attention.relativeBias: the
 * [32, H] table every layer's attention adds (MPNet; a kernel compiled with it).
 */
export function postLNLayerDispatches(
  d: Dispatch[],
  k: PostLNKernels,
  layers: PostLNLayerTensors[],
  buf: ReturnType<typeof allocPostLNBuffers>,
  inputs: { attentionMask: GPUTensor; attentionTiles: GPUTensor },
  eps: number,
  attention: { relativeBias?: GPUTensor } = {},
): void {
  const { xA, xB, sum, qkv, q, k: kk, v, attn, inter, last } = buf;
  layers.forEach((w, i) => {
    const L = `layer${i}`;
    const out = i === layers.length - 1 ? last : xA;
    d.push(k.matmulBias.createDispatch(`${L}.qkv`, xA, w.qkv, qkv, { bias: w.qkvBias })); // (N, 3C)
    d.push(k.split.createDispatch(`${L}.split`, qkv, null, null, q, kk, v)); // (H, N, D) x3
    d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, inputs.attentionMask, inputs.attentionTiles, attn, attention)); // (N, C)
    d.push(k.matmulBiasResidual.createDispatch(`${L}.attention_out`, attn, w.attentionOut, sum, { bias: w.attentionOutBias, residual: xA })); // (N, C) xA + o Wo^T + bo
    d.push(k.layerNorm.createDispatch(`${L}.attention_norm`, sum, w.attentionNorm, w.attentionNormBias, xB, eps)); // (N, C)
    d.push(k.matmulBiasAct.createDispatch(`${L}.intermediate`, xB, w.intermediate, inter, { bias: w.intermediateBias })); // (N, I)
    d.push(k.matmulBiasResidual.createDispatch(`${L}.output`, inter, w.output, sum, { bias: w.outputBias, residual: xB })); // (N, C) xB + u W2^T + b2
    d.push(k.layerNorm.createDispatch(`${L}.output_norm`, sum, w.outputNorm, w.outputNormBias, out, eps)); // (N, C)
  });
}

/** The matmuls of a post-LN layer (the bench's matmul-only figures). */
export function postLNLayerMatmuls({ hiddenSize: C, intermediateSize: I }: { hiddenSize: number; intermediateSize: number }) {
  return [
    { name: 'qkv', N: 3 * C, K: C },
    { name: 'wo', N: C, K: C },
    { name: 'intermediate', N: I, K: C },
    { name: 'output', N: C, K: I },
  ];
}

/** BERT-style embeddings on the GPU (word table in row chunks). */
export interface BertEmbeddingTensors {
  word: EmbeddingTable; // (V, E)
  position: GPUTensor; // (P, E)
  tokenType: GPUTensor | null; // (T, E)
  norm: GPUTensor; // (E)
  normBias: GPUTensor; // (E)
}

/** Uploads them; `dims` as given to bertEmbeddingSpecs (each lazy tensor is read once, here). */
export function uploadBertEmbeddings(arena: WeightArena, w: BertEmbeddingWeights, dims: { vocab: number; positions: number; types: number; width: number }): BertEmbeddingTensors {
  const E = dims.width;
  return {
    word: arena.embeddingTable('word_embeddings', w.wordEmbeddings, dims.vocab, E),
    position: arena.tensor('position_embeddings', w.positionEmbeddings, [dims.positions, E]),
    tokenType: dims.types > 0 ? arena.tensor('token_type_embeddings', w.tokenTypeEmbeddings!, [dims.types, E]) : null,
    norm: arena.tensor('embeddings.norm', w.embeddingNorm, [E]),
    normBias: arena.tensor('embeddings.norm.bias', w.embeddingNormBias, [E]),
  };
}

/** out (N, E) = LayerNorm(word + position (+ token type)), via `sum` (N, E). `embedding` is compiled with positions (and token types when the table has them). */
export function bertEmbeddingDispatches(
  d: Dispatch[],
  k: { embedding: EmbeddingKernel; layerNorm: LayerNormKernel },
  e: BertEmbeddingTensors,
  inputs: { inputIds: GPUTensor; positions: GPUTensor; tokenTypeIds: GPUTensor | null },
  sum: GPUTensor,
  out: GPUTensor,
  eps: number,
): void {
  const types = e.tokenType ? { typeIds: inputs.tokenTypeIds!, typeTable: e.tokenType } : {};
  d.push(...embeddingDispatches(k.embedding, 'embedding', inputs.inputIds, e.word, sum, { positions: inputs.positions, positionTable: e.position, ...types })); // (N, E)
  d.push(k.layerNorm.createDispatch('embedding_norm', sum, e.norm, e.normBias, out, eps)); // (N, E)
}

/** BERT-style MLM head: dense (C -> E) -> act -> LayerNorm (E) -> decoder (V, E) + bias; E = C except ELECTRA's generator. */
export interface MlmHeadTensors {
  dense: GPUTensor; // (E, C)
  denseBias: GPUTensor; // (E)
  norm: GPUTensor; // (E)
  normBias: GPUTensor; // (E)
  decoder: RowChunkedLinear; // (V, E) + (V), in row chunks
}

/** Uploads an MLM head (decoder tied or not: `decoder` is whatever the table read). */
export function uploadMlmHead(arena: WeightArena, w: { dense: Float32Array; denseBias: Float32Array; norm: Float32Array; normBias: Float32Array; decoder: Float32Array; decoderBias: Float32Array }, C: number, E: number, V: number): MlmHeadTensors {
  return {
    dense: arena.weight('mlm.dense', w.dense, [E, C]),
    denseBias: arena.tensor('mlm.dense.bias', w.denseBias, [E]),
    norm: arena.tensor('mlm.norm', w.norm, [E]),
    normBias: arena.tensor('mlm.norm.bias', w.normBias, [E]),
    decoder: arena.rowChunkedLinear('mlm.decoder', w.decoder, w.decoderBias, V, E),
  };
}

/**
 * The MLM head on `last` (N, C): the logit rows gathered first (options.logitRows), then
 * act(x Wd^T + bd) (activation compiled into `act`), LayerNorm, decoder: logits (M, V).
 */
export function mlmHeadDispatches(
  p: PlanBuilder,
  k: { gather: EmbeddingKernel; act: MatmulKernel; layerNorm: LayerNormKernel; matmulBias: MatmulKernel },
  head: MlmHeadTensors,
  last: GPUTensor,
  eps: number,
): { logits: GPUTensor; logitRows: GPUTensor | null } {
  const { alloc, dispatches: d } = p;
  const rows = logitRowsInput(alloc, d, k.gather, last, p.options.logitRows); // (M = N or R, C)
  const M = rows.input.shape[0];
  const E = head.norm.shape[0];
  const t = alloc('mlm_transform', [M, E]); // (M, E) act(last Wd^T + bd)
  const tn = alloc('mlm_transform_norm', [M, E]); // (M, E)
  const logits = alloc('logits', [M, head.decoder.rows]); // (M, V)
  d.push(k.act.createDispatch('mlm_dense', rows.input, head.dense, t, { bias: head.denseBias }));
  d.push(k.layerNorm.createDispatch('mlm_norm', t, head.norm, head.normBias, tn, eps));
  d.push(...linearDispatches(k.matmulBias, 'mlm_decoder', tn, head.decoder, logits)); // (M, V)
  return { logits, logitRows: rows.rows };
}

/** A sequence classifier on a pooled row: [dense (C, C) -> act ->] out (labels, C). */
export interface ClassifierTensors {
  dense: GPUTensor | null;
  denseBias: GPUTensor | null;
  weight: GPUTensor;
  bias: GPUTensor;
}

/** Uploads a classifier (dense absent for BERT's, which reads the pooler output). */
export function uploadClassifier(arena: WeightArena, w: { dense: Float32Array | null; denseBias: Float32Array | null; weight: Float32Array; bias: Float32Array }, C: number): ClassifierTensors {
  const labels = w.bias.length;
  return {
    dense: w.dense && arena.weight('classifier.dense', w.dense, [C, C]),
    denseBias: w.denseBias && arena.tensor('classifier.dense.bias', w.denseBias, [C]),
    weight: arena.weight('classifier', w.weight, [labels, C]),
    bias: arena.tensor('classifier.bias', w.bias, [labels]),
  };
}

/** logits (S, labels) = out(act(x Wd^T + bd)) with the dense layer, else out(x); x (S, C) a pooled row. */
export function classifierDispatches(p: PlanBuilder, k: { act: MatmulKernel | null; matmulBias: MatmulKernel }, head: ClassifierTensors, x: GPUTensor): GPUTensor {
  const { alloc, dispatches: d } = p;
  const [S, C] = x.shape;
  const logits = alloc('logits', [S, head.bias.shape[0]]); // (S, labels)
  if (head.dense && head.denseBias) {
    const dense = alloc('classifier_dense', [S, C]); // (S, C) act(x Wd^T + bd)
    d.push(k.act!.createDispatch('classifier_dense', x, head.dense, dense, { bias: head.denseBias }));
    d.push(k.matmulBias.createDispatch('classifier', dense, head.weight, logits, { bias: head.bias }));
  } else {
    d.push(k.matmulBias.createDispatch('classifier', x, head.weight, logits, { bias: head.bias }));
  }
  return logits;
}

type HeadTensors = { kind: 'none' } | ({ kind: 'mlm' } & MlmHeadTensors) | ({ kind: 'classification' } & ClassifierTensors);

/** Every pipeline a forward of this checkpoint uses, compiled once (only the variants it needs). */
function createKernels(arena: WeightArena, config: BertConfig, weights: BertWeights) {
  const { device, dtype: weightDtype, options } = arena;
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic: modelArithmetic(device, options) };
  const head = weights.head.kind;
  const tanh = weights.pooler !== null || (head === 'classification' && config.flavour === 'roberta'); // pooler, RoBERTa classifier dense
  return arena.kernels({
    ...postLNKernelSpecs(arena, config, config.activation),
    embedding: EmbeddingKernel.create(device, config.hiddenSize, { positions: true, tokenTypes: true }), // word + position + token type
    matmulBiasTanh: tanh ? MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }) : null,
    // RoBERTa lm_head: exact GELU whatever hidden_act says (matmulBiasAct when that is gelu)
    matmulBiasGelu: head === 'mlm' && config.flavour === 'roberta' && config.activation !== 'gelu' ? MatmulKernel.create(device, { ...m, bias: true, activation: 'gelu' }) : null,
    gather: head === 'mlm' ? EmbeddingKernel.create(device, config.hiddenSize) : null, // plain row gather (the MLM head's logit rows)
  });
}

export class BertModel implements EncoderModel {
  readonly positionOffset: number;

  private constructor(
    readonly device: GPUDevice,
    readonly config: BertConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly kernels: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: BertEmbeddingTensors,
    private readonly layers: PostLNLayerTensors[],
    private readonly pooler: { weight: GPUTensor; bias: GPUTensor } | null,
    private readonly head: HeadTensors,
    readonly dtype: ModelDtype,
  ) {
    this.positionOffset = config.flavour === 'roberta' ? config.padTokenId + 1 : 0;
  }

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.bias.shape[0] : 0;
  }

  get hasPooler(): boolean {
    return this.pooler !== null;
  }

  /** Uploads weights (matmul weights as options.dtype, the rest f32) and compiles every pipeline. */
  static async create(device: GPUDevice, config: BertConfig, weights: BertWeights, options: ModelOptions = {}): Promise<BertModel> {
    const { hiddenSize: C, vocabSize: V } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, weights);
    const layers = await uploadPostLNLayers(arena, config, weights.layers);
    const embeddings = uploadBertEmbeddings(arena, weights, { vocab: V, positions: config.maxPositionEmbeddings, types: config.typeVocabSize, width: C });
    const pooler = weights.pooler && { weight: arena.weight('pooler', weights.pooler.weight, [C, C]), bias: arena.tensor('pooler.bias', weights.pooler.bias, [C]) };
    let head: HeadTensors = { kind: 'none' };
    const w = weights.head;
    if (w.kind === 'mlm') head = { kind: 'mlm', ...uploadMlmHead(arena, w, C, C, V) };
    else if (w.kind === 'classification') head = { kind: 'classification', ...uploadClassifier(arena, w, C) };
    return new BertModel(device, config, arena, kernels, embeddings, layers, pooler, head, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * The forward pass for N tokens in S sequences. Shapes: C hidden, H heads of D, I intermediate,
   * V vocabulary. Post-LN: x = LN(x + attn(x)); x = LN(x + W2 act(W1 x + b1) + b2).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, layerNormEps: eps } = this.config;
    const k = this.kernels;
    const N = tokens;
    const S = sequences;
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: true });
    const { alloc, dispatches: d, inputs } = p;
    const buf = allocPostLNBuffers(alloc, N, this.config);
    bertEmbeddingDispatches(d, k, this.embeddings, inputs, buf.sum, buf.xA, eps); // (N, C)
    postLNLayerDispatches(d, k, this.layers, buf, inputs, eps); // (N, C) last
    const last = buf.last;
    const pooled = pooledOutputs(alloc, d, k, last, inputs.attentionMask, inputs.sequenceTable); // (S, C) x4
    const cls = pooled.pooledCls;
    let poolerOutput: GPUTensor | null = null;
    if (this.pooler) {
      poolerOutput = alloc('pooler_output', [S, C]); // (S, C) tanh(cls Wp^T + bp)
      d.push(k.matmulBiasTanh!.createDispatch('pooler', cls, this.pooler.weight, poolerOutput, { bias: this.pooler.bias }));
    }

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      // RoBERTa's lm_head: exact GELU whatever hidden_act says; BERT's: hidden_act.
      const act = this.config.flavour === 'roberta' ? (k.matmulBiasGelu ?? k.matmulBiasAct) : k.matmulBiasAct;
      ({ logits, logitRows } = mlmHeadDispatches(p, { ...k, gather: k.gather!, act }, head, last, eps));
    } else if (options.logits && head.kind === 'classification') {
      // BERT: classifier on the pooler output; RoBERTa: dense -> tanh -> out_proj on <s>.
      logits = classifierDispatches(p, { act: k.matmulBiasTanh, matmulBias: k.matmulBias }, head, head.dense ? cls : poolerOutput!);
    }
    return p.finish({ lastHiddenState: last, pooled, poolerOutput, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

export const bert: Architecture<BertConfig, BertWeights> = {
  name: 'BERT',
  modelTypes: ['bert', 'roberta', 'xlm-roberta'],
  parseConfig: parseBertConfig,
  loadWeights: loadBertWeights,
  createModel: (device, config, weights, options) => BertModel.create(device, config, weights, options),
  layerMatmuls: postLNLayerMatmuls,
};
