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
import { checkTensors, countDtypes, elementsOf, firstPresent, lazyTensors, type TensorLookup, type TensorSpec } from '../tensor-table';
import { destroyAll, embeddingDispatches, linearDispatches, logitRowsInput, modelArithmetic, pooledOutputs, planAllocator, uploadEmbeddingTable, uploadRowChunkedLinear, uploadTensor, uploadWeight, type EmbeddingTable, type RowChunkedLinear } from './common';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

/** hidden_act values and the matmul epilogue that computes each (exact erf GELU for "gelu"). */
const ACTIVATIONS: Record<string, MatmulActivation> = {
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

export interface BertWeights {
  wordEmbeddings: Float32Array; // [V, C]
  positionEmbeddings: Float32Array; // [P, C]
  tokenTypeEmbeddings: Float32Array; // [T, C]
  embeddingNorm: Float32Array; // [C]
  embeddingNormBias: Float32Array; // [C]
  layers: BertLayerWeights[];
  pooler: { weight: Float32Array; bias: Float32Array } | null; // [C, C], [C]
  head: BertHeadWeights;
}

/** Prefixes of the encoder in real exports: base models have none, task models their own. */
const ENCODER_PREFIXES = ['', 'bert.', 'roberta.', 'model.'];

/** Both LayerNorm spellings: .weight/.bias, and .gamma/.beta of older BERT files. */
function layerNormNames(lookup: TensorLookup, base: string): [string, string] {
  return lookup.has(`${base}.gamma`) && !lookup.has(`${base}.weight`) ? [`${base}.gamma`, `${base}.beta`] : [`${base}.weight`, `${base}.bias`];
}

/** Every tensor this checkpoint must have for its head, with the Hub names it uses. */
function tensorTable(config: BertConfig, lookup: TensorLookup) {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V, numLabels } = config;
  const prefix = ENCODER_PREFIXES.find((p) => lookup.has(`${p}embeddings.word_embeddings.weight`));
  if (prefix === undefined) {
    throw new CheckpointError(
      `${lookup.label}: no word embeddings (embeddings.word_embeddings.weight, with or without a bert./roberta. prefix); is this a ${config.modelType} checkpoint?`,
    );
  }
  const extra = `${prefix}encoder.layer.${config.numLayers}.attention.self.query.weight`;
  if (lookup.has(extra)) throw new CheckpointError(`${lookup.fileOf(extra)}: has tensor ${extra}, more layers than config.json num_hidden_layers=${config.numLayers}`);
  const hidden = `hidden_size=${C}`;
  const inter = `intermediate_size=${I}`;
  const spec = (name: string, shape: number[], because: string[], missingHint = ''): TensorSpec => ({ name, shape, because, missingHint });
  const linear = (base: string, out: number, inp: number, because: string[], hint = '') => ({
    weight: spec(`${base}.weight`, [out, inp], because, hint),
    bias: spec(`${base}.bias`, [out], because, hint),
  });
  const norm = (base: string, hint = '') => {
    const [w, b] = layerNormNames(lookup, base);
    return { weight: spec(w, [C], [hidden], hint), bias: spec(b, [C], [hidden], hint) };
  };
  const e = `${prefix}embeddings`;
  const embeddings = {
    word: spec(`${e}.word_embeddings.weight`, [V, C], [`vocab_size=${V}`, hidden]),
    position: spec(`${e}.position_embeddings.weight`, [config.maxPositionEmbeddings, C], [`max_position_embeddings=${config.maxPositionEmbeddings}`, hidden]),
    tokenType: spec(`${e}.token_type_embeddings.weight`, [config.typeVocabSize, C], [`type_vocab_size=${config.typeVocabSize}`, hidden]),
    norm: norm(`${e}.LayerNorm`),
  };
  const hint = ` (config.json num_hidden_layers=${config.numLayers})`;
  const layers = Array.from({ length: config.numLayers }, (_, i) => {
    const p = `${prefix}encoder.layer.${i}`;
    return {
      query: linear(`${p}.attention.self.query`, C, C, [hidden], hint),
      key: linear(`${p}.attention.self.key`, C, C, [hidden], hint),
      value: linear(`${p}.attention.self.value`, C, C, [hidden], hint),
      attentionOut: linear(`${p}.attention.output.dense`, C, C, [hidden], hint),
      attentionNorm: norm(`${p}.attention.output.LayerNorm`, hint),
      intermediate: linear(`${p}.intermediate.dense`, I, C, [inter, hidden], hint),
      output: linear(`${p}.output.dense`, C, I, [hidden, inter], hint),
      outputNorm: norm(`${p}.output.LayerNorm`, hint),
    };
  });
  const pooler = lookup.has(`${prefix}pooler.dense.weight`) ? linear(`${prefix}pooler.dense`, C, C, [hidden]) : null;

  const kind = detectHead(config, lookup);
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

function detectHead(config: BertConfig, lookup: TensorLookup): HeadKind {
  if (config.numLabels !== null) return 'classification';
  if (lookup.has('cls.predictions.transform.dense.weight') || lookup.has('lm_head.dense.weight')) return 'mlm';
  const classifier = firstPresent(lookup, ['classifier.weight', 'classifier.out_proj.weight']);
  if (classifier) {
    throw new CheckpointError(
      `${lookup.fileOf(classifier)}: has ${classifier} but config.json architectures ${JSON.stringify(config.architectures)} name no *ForSequenceClassification, so the label count is unknown`,
    );
  }
  return 'none';
}

/** Validates every tensor (presence, shape, dtype) before converting any, then converts all to f32. */
export function loadBertWeights(config: BertConfig, lookup: TensorLookup) {
  const table = tensorTable(config, lookup);
  const specs: TensorSpec[] = [
    table.embeddings.word,
    table.embeddings.position,
    table.embeddings.tokenType,
    table.embeddings.norm.weight,
    table.embeddings.norm.bias,
    ...table.layers.flatMap((l) => Object.values(l).flatMap((p) => [p.weight, p.bias])),
    ...(table.pooler ? [table.pooler.weight, table.pooler.bias] : []),
    ...(Object.values(table.head).filter((s) => s !== null) as TensorSpec[]),
  ];
  checkTensors(lookup, specs);
  // Lazy properties: each tensor is read (and converted to f32) only when createModel uploads it.
  const lazy = <K extends string>(names: Record<K, TensorSpec>) =>
    lazyTensors(lookup, Object.fromEntries(Object.entries(names).map(([k, spec]) => [k, (spec as TensorSpec).name])) as Record<K, string>);
  const layers: BertLayerWeights[] = table.layers.map((l) =>
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
  const h = table.head as Record<string, TensorSpec>;
  let head: BertHeadWeights = { kind: 'none' };
  if (table.kind === 'mlm') {
    // A tied decoder is the word embeddings, read again at upload (the checkpoint stores it once).
    head = Object.assign(lazy({ dense: h.dense, denseBias: h.denseBias, norm: h.norm, normBias: h.normBias, decoder: h.decoder, decoderBias: h.decoderBias }), { kind: 'mlm' as const });
  } else if (table.kind === 'classification') {
    const dense = h.dense ? lazy({ dense: h.dense, denseBias: h.denseBias }) : { dense: null, denseBias: null };
    head = Object.defineProperties({ kind: 'classification' as const }, {
      ...Object.getOwnPropertyDescriptors(dense),
      ...Object.getOwnPropertyDescriptors(lazy({ weight: h.weight, bias: h.bias })),
    }) as BertHeadWeights;
  }
  const e = lazy({
    wordEmbeddings: table.embeddings.word,
    positionEmbeddings: table.embeddings.position,
    tokenTypeEmbeddings: table.embeddings.tokenType,
    embeddingNorm: table.embeddings.norm.weight,
    embeddingNormBias: table.embeddings.norm.bias,
  });
  const weights: BertWeights = Object.defineProperties(
    { layers, pooler: table.pooler ? lazy({ weight: table.pooler.weight, bias: table.pooler.bias }) : null, head },
    Object.getOwnPropertyDescriptors(e),
  ) as BertWeights;
  const names = [...new Set(specs.map((s) => s.name))];
  const parameterCount = elementsOf(lookup, names);
  return { weights, dtypes: countDtypes(lookup, names), parameterCount };
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
  | { kind: 'mlm'; dense: GPUTensor; denseBias: GPUTensor; norm: GPUTensor; normBias: GPUTensor; decoder: RowChunkedLinear /* (V, C) + (V) */ }
  | { kind: 'classification'; dense: GPUTensor | null; denseBias: GPUTensor | null; weight: GPUTensor; bias: GPUTensor };

interface Kernels {
  embedding: EmbeddingKernel; // word + position + token type
  layerNorm: LayerNormKernel;
  matmulBias: MatmulKernel;
  matmulBiasResidual: MatmulKernel;
  matmulBiasAct: MatmulKernel; // hidden_act epilogue
  matmulBiasTanh: MatmulKernel;
  matmulBiasGelu: MatmulKernel; // RoBERTa lm_head: exact GELU whatever hidden_act says
  split: RopeQkvKernel; // qkv -> q, k, v head-major, no rotation
  attention: AttentionKernel;
  pooling: PoolingKernel;
  l2norm: L2NormKernel;
  gather: EmbeddingKernel; // plain row gather (the MLM head's logit rows)
}

export class BertModel implements EncoderModel {
  readonly positionOffset: number;

  private constructor(
    readonly device: GPUDevice,
    readonly config: BertConfig,
    private readonly kernels: Kernels,
    private readonly embeddings: { word: EmbeddingTable; position: GPUTensor; tokenType: GPUTensor; norm: GPUTensor; normBias: GPUTensor },
    private readonly layers: LayerTensors[],
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
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, vocabSize: V } = config;
    const dtype = options.dtype ?? 'f32';
    const arithmetic = modelArithmetic(device, options);
    const m = { weightDtype: dtype, strategy: options.matmulStrategy, arithmetic };
    const [embedding, layerNorm, matmulBias, matmulBiasResidual, matmulBiasAct, matmulBiasTanh, matmulBiasGelu, split, attention, pooling, l2norm, gather] =
      await Promise.all([
        EmbeddingKernel.create(device, C, { positions: true, tokenTypes: true }),
        LayerNormKernel.create(device, { bias: true }),
        MatmulKernel.create(device, { ...m, bias: true }),
        MatmulKernel.create(device, { ...m, bias: true, residual: true }),
        MatmulKernel.create(device, { ...m, bias: true, activation: config.activation }),
        MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }),
        MatmulKernel.create(device, { ...m, bias: true, activation: 'gelu' }),
        RopeQkvKernel.create(device, H, D, { rope: false, outputDtype: arithmetic }),
        AttentionKernel.create(device, H, D, { arithmetic }),
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
      await drainUploads(device); // one layer's staging copies at a time
    }
    const embeddings = {
      word: uploadEmbeddingTable(device, 'word_embeddings', weights.wordEmbeddings, V, C, options.maxChunkRows),
      position: up('position_embeddings', weights.positionEmbeddings, [config.maxPositionEmbeddings, C]),
      tokenType: up('token_type_embeddings', weights.tokenTypeEmbeddings, [config.typeVocabSize, C]),
      norm: up('embeddings.norm', weights.embeddingNorm, [C]),
      normBias: up('embeddings.norm.bias', weights.embeddingNormBias, [C]),
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
        dense: w.dense && upW('classifier.dense', w.dense, [C, C]),
        denseBias: w.denseBias && up('classifier.dense.bias', w.denseBias, [C]),
        weight: upW('classifier', w.weight, [labels, C]),
        bias: up('classifier.bias', w.bias, [labels]),
      };
    }
    return new BertModel(device, config, kernels, embeddings, layers, pooler, head, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    let widest = Math.max(3 * C, I);
    if (options.logits && this.head.kind === 'mlm') widest = Math.max(widest, V);
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    return Math.floor(limit / (widest * 4));
  }

  /**
   * The forward pass for N tokens in S sequences. Shapes: C hidden, H heads of D, I intermediate,
   * V vocabulary. Post-LN: x = LN(x + attn(x)); x = LN(x + W2 act(W1 x + b1) + b2).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, layerNormEps: eps } = this.config;
    const k = this.kernels;
    const N = tokens;
    const S = sequences;
    const { alloc, tensors, destroy, dispatches } = planAllocator(this.device);
    const inputIds = alloc('input_ids', [N]); // (N) u32
    const tokenTypeIds = alloc('token_type_ids', [N]); // (N) u32
    const attentionMask = alloc('attention_mask', [N]); // (N) u32
    const positions = alloc('positions', [N]); // (N) u32 position ids
    const attentionTiles = alloc('attention_tiles', [AttentionKernel.maxTiles(N, S), 4]); // (tiles, 4) u32
    const sequenceTable = alloc('sequence_table', [S, 4]); // (S, 4) u32
    const xA = alloc('residual_a', [N, C]); // (N, C) layer input / output
    const xB = alloc('residual_b', [N, C]); // (N, C) after the attention block's LayerNorm
    const sum = alloc('residual_sum', [N, C]); // (N, C) x + sublayer(x), before its LayerNorm
    const qkv = alloc('qkv', [N, 3 * C]); // (N, H*3*D) per-head interleaved
    const q = alloc('q', [H, N, D]); // (H, N, D)
    const kk = alloc('k', [H, N, D]); // (H, N, D)
    const v = alloc('v', [H, N, D]); // (H, N, D)
    const attn = alloc('attention_out', [N, C]); // (N, H*D) heads concatenated
    const inter = alloc('intermediate', [N, I]); // (N, I) act(x W1^T + b1)
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const e = this.embeddings;

    const d: Dispatch[] = dispatches; // destroy() frees their params buffers
    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, e.word, sum, { positions, positionTable: e.position, typeIds: tokenTypeIds, typeTable: e.tokenType })); // (N, C)
    d.push(k.layerNorm.createDispatch('embedding_norm', sum, e.norm, e.normBias, xA, eps)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      const out = i === this.layers.length - 1 ? last : xA;
      d.push(k.matmulBias.createDispatch(`${L}.qkv`, xA, w.qkv, qkv, { bias: w.qkvBias })); // (N, 3C)
      d.push(k.split.createDispatch(`${L}.split`, qkv, null, null, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, attentionMask, attentionTiles, attn)); // (N, C)
      d.push(k.matmulBiasResidual.createDispatch(`${L}.attention_out`, attn, w.attentionOut, sum, { bias: w.attentionOutBias, residual: xA })); // (N, C) xA + o Wo^T + bo
      d.push(k.layerNorm.createDispatch(`${L}.attention_norm`, sum, w.attentionNorm, w.attentionNormBias, xB, eps)); // (N, C)
      d.push(k.matmulBiasAct.createDispatch(`${L}.intermediate`, xB, w.intermediate, inter, { bias: w.intermediateBias })); // (N, I)
      d.push(k.matmulBiasResidual.createDispatch(`${L}.output`, inter, w.output, sum, { bias: w.outputBias, residual: xB })); // (N, C) xB + u W2^T + b2
      d.push(k.layerNorm.createDispatch(`${L}.output_norm`, sum, w.outputNorm, w.outputNormBias, out, eps)); // (N, C)
    });
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4
    const { pooledCls: cls, pooledMean: mean } = pooled;
    let poolerOutput: GPUTensor | null = null;
    if (this.pooler) {
      poolerOutput = alloc('pooler_output', [S, C]); // (S, C) tanh(cls Wp^T + bp)
      d.push(k.matmulBiasTanh.createDispatch('pooler', cls, this.pooler.weight, poolerOutput, { bias: this.pooler.bias }));
    }

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      const rows = logitRowsInput(alloc, d, k.gather, last, options.logitRows); // (M = N or R, C)
      logitRows = rows.rows;
      const M = rows.input.shape[0];
      const t = alloc('mlm_transform', [M, C]); // (M, C) act(last Wd^T + bd)
      const tn = alloc('mlm_transform_norm', [M, C]); // (M, C)
      logits = alloc('logits', [M, this.config.vocabSize]); // (M, V)
      const act = this.config.flavour === 'roberta' ? k.matmulBiasGelu : k.matmulBiasAct;
      d.push(act.createDispatch('mlm_dense', rows.input, head.dense, t, { bias: head.denseBias }));
      d.push(k.layerNorm.createDispatch('mlm_norm', t, head.norm, head.normBias, tn, eps));
      d.push(...linearDispatches(k.matmulBias, 'mlm_decoder', tn, head.decoder, logits)); // (M, V)
    } else if (options.logits && head.kind === 'classification') {
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      if (head.dense && head.denseBias) {
        const dense = alloc('classifier_dense', [S, C]); // (S, C) tanh(cls Wd^T + bd)
        d.push(k.matmulBiasTanh.createDispatch('classifier_dense', cls, head.dense, dense, { bias: head.denseBias }));
        d.push(k.matmulBias.createDispatch('classifier', dense, head.weight, logits, { bias: head.bias }));
      } else {
        d.push(k.matmulBias.createDispatch('classifier', poolerOutput!, head.weight, logits, { bias: head.bias }));
      }
    }

    return {
      tokens: N,
      sequences: S,
      options,
      inputIds,
      tokenTypeIds,
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
      this.embeddings.tokenType,
      this.embeddings.norm,
      this.embeddings.normBias,
      ...this.layers.flatMap((l) => Object.values(l)),
      this.pooler?.weight,
      this.pooler?.bias,
      ...Object.values(head),
    ]);
    for (const kernel of Object.values(this.kernels)) kernel.destroy();
  }
}

export const bert: Architecture<BertConfig, BertWeights> = {
  name: 'BERT',
  modelTypes: ['bert', 'roberta', 'xlm-roberta'],
  parseConfig: parseBertConfig,
  loadWeights: loadBertWeights,
  createModel: (device, config, weights, options) => BertModel.create(device, config, weights, options),
};
