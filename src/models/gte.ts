// GTE v1.5 and gte-multilingual (Alibaba-NLP gte-base/large-en-v1.5, gte-multilingual-base and
// -reranker-base; config.json model_type "new", the remote code modeling.py of Alibaba-NLP/new-impl):
// word (+ token type when type_vocab_size > 0) embeddings then LayerNorm; post-norm layers
// (LayerNorm, or RMSNorm with layer_norm_type "rms_norm"); qkv_proj (or q/k/v_proj with pack_qkv
// false) with biases; rotate-half RoPE over the head with rope_theta and fixed NTK scaling
// (rope_scaling {"type": "ntk", "factor": f}: the same frequencies at every length); GeGLU
// up_gate_proj (first half up, second half gate, exact erf GELU) then down_proj. Heads: sequence
// classification (pooler tanh + classifier: the multilingual reranker), token classification,
// MLM (dense, act, LayerNorm, tied decoder + bias). Nothing reads auto_map: configs without it
// load the same. This file is the whole architecture: config, checkpoint table, forward plan.
import { ConfigReader } from '../config';
import { CheckpointError } from '../errors';
import { EmbeddingKernel, LayerNormKernel, MatmulKernel, RMSNormKernel, type GPUTensor, type MatmulActivation } from '../kernels';
import { interleaveGateUp, swapHalves } from '../weight-layout';
import { drainUploads } from '../gpu';
import { ntkInverseFrequencies, ropeInverseFrequencies, ropeTableFromFrequencies } from '../tables';
import { checkNoExtraLayer, checkTable, detectPrefix, lazySection, linearSpec, normSpec, specsOf, tensorSpec, type TensorLookup, type TensorSpec } from '../tensor-table';
import { embeddingDispatches, matmulDispatch, maxTokensForWidth, mlmTransformDispatches, modelArithmetic, PlanBuilder, poolerDispatch, pooledOutputs, WeightArena, type EmbeddingTable, type LinearTensors, type RowChunkedLinear } from './common';
import { rotaryAttentionBuffers, rotaryAttentionKernels, rotaryQkvRows } from './rotary';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

/** hidden_act values the GeGLU epilogue computes (ACT2FN: "gelu" is exact erf GELU). */
const GLU_ACTIVATIONS: Record<string, 'gelu' | 'silu'> = { gelu: 'gelu', silu: 'silu', swish: 'silu' };
/** The MLM transform's activation (ACT2FN[hidden_act]) as a matmul epilogue. */
const HEAD_ACTIVATIONS: Record<string, MatmulActivation> = { gelu: 'gelu', silu: 'silu', swish: 'silu' };

/**
 * Most tokens per sequence. The reference has no cap (its RoPE cache is rebuilt for longer
 * inputs with the same frequencies); the engine allows max_position_embeddings x the NTK factor,
 * and at least the released models' 8192.
 */
export const GTE_MIN_MAX_LENGTH = 8192;

export interface GteConfig extends EncoderConfig {
  intermediateSize: number;
  layerNormEps: number;
  /** layer_norm_type: the norm of attn_ln / mlp_ln (the embeddings' LayerNorm is always a LayerNorm). */
  layerNorm: 'layer_norm' | 'rms_norm';
  /** pack_qkv: one qkv_proj, else q_proj / k_proj / v_proj. */
  packQkv: boolean;
  gluActivation: 'gelu' | 'silu';
  headActivation: MatmulActivation;
  ropeTheta: number;
  /** rope_scaling {"type": "ntk", "factor": f}: f; null without scaling. */
  ntkFactor: number | null;
  maxPositionEmbeddings: number;
  /** type_vocab_size as written: 0 = no table, 1 = one row added to every token (ids zeroed). */
  typeTableRows: number;
}

function parseRopeScaling(r: ConfigReader): number | null {
  const scaling = r.fields['rope_scaling'];
  if (scaling === undefined || scaling === null) return null;
  if (typeof scaling !== 'object' || Array.isArray(scaling)) r.fail(`rope_scaling must be null or an object, got ${JSON.stringify(scaling)}`);
  const s = scaling as Record<string, unknown>;
  const type = s['type'] ?? s['rope_type'];
  if (type !== 'ntk') r.fail(`rope_scaling.type ${JSON.stringify(type)} is not supported; this engine runs "ntk" (fixed NTK scaling, as the GTE models)`);
  if (s['mixed_b'] !== undefined && s['mixed_b'] !== null) r.fail(`rope_scaling.mixed_b=${JSON.stringify(s['mixed_b'])} (mixed NTK) is not supported; only null`);
  const factor = s['factor'];
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) r.fail(`rope_scaling.factor must be a number >= 1, got ${JSON.stringify(factor)}`);
  return factor as number;
}

export function parseGteConfig(json: unknown, where: string): GteConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'new';
  if (modelType !== 'new') r.fail(`model_type is ${JSON.stringify(modelType)}, expected "new"`);
  const hiddenSize = r.integer('hidden_size', 1);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0) r.fail(`hidden_size=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  const vocabSize = r.integer('vocab_size', 1);
  const positionType = r.choice('position_embedding_type', ['rope', 'absolute'], 'rope');
  if (positionType !== 'rope') r.fail(`position_embedding_type ${JSON.stringify(positionType)} is not supported; this engine runs "rope" (every released GTE model)`);
  const hiddenAct = r.choice('hidden_act', Object.keys(GLU_ACTIVATIONS), 'gelu');
  const typeTableRows = r.integer('type_vocab_size', 0, 1);
  const maxPositionEmbeddings = r.integer('max_position_embeddings', 1, 2048);
  const ntkFactor = parseRopeScaling(r);
  const architectures = r.architectures();
  const classifier = architectures.some((a) => a.endsWith('ForSequenceClassification') || a.endsWith('ForTokenClassification'));
  return {
    modelType: 'new',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength: Math.max(GTE_MIN_MAX_LENGTH, Math.floor(maxPositionEmbeddings * (ntkFactor ?? 1))),
    padTokenId: r.padTokenId(vocabSize, 0),
    // With one row the reference zeroes whatever ids it is given: ids are accepted and read as 0.
    typeVocabSize: typeTableRows,
    ...(typeTableRows === 1 ? { zeroesTokenTypes: true } : {}),
    ...r.labels(classifier),
    intermediateSize: r.integer('intermediate_size', 1),
    layerNormEps: r.positive('layer_norm_eps', 1e-12),
    layerNorm: r.choice('layer_norm_type', ['layer_norm', 'rms_norm'] as const, 'layer_norm'),
    packQkv: r.boolean('pack_qkv', true),
    gluActivation: GLU_ACTIVATIONS[hiddenAct],
    headActivation: HEAD_ACTIVATIONS[hiddenAct],
    ropeTheta: r.positive('rope_theta', 10000),
    ntkFactor,
    maxPositionEmbeddings,
    typeTableRows,
  };
}

/** inv_freq of a GTE config: fixed NTK (theta * f, positions / f^(2/d)) or plain. */
export function gteInverseFrequencies(config: Pick<GteConfig, 'headDim' | 'ropeTheta' | 'ntkFactor' | 'maxPositionEmbeddings'>): Float32Array<ArrayBuffer> {
  const { headDim: d, ropeTheta, ntkFactor } = config;
  // NTKScalingRotaryEmbedding replaces the frequencies only when its cache (max * f positions)
  // is longer than max_position_embeddings, i.e. for f > 1; f = 1 leaves them plain.
  return ntkFactor !== null && ntkFactor > 1 ? ntkInverseFrequencies(d, ropeTheta, ntkFactor) : ropeInverseFrequencies(d, ropeTheta);
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

type Linear = { weight: Float32Array; bias: Float32Array | null };
type Norm = { weight: Float32Array; bias: Float32Array | null };

export interface GteLayerWeights {
  /** [3C, C] rows q, k, v (head-major each), + [3C] bias: qkv_proj, or q/k/v_proj stacked. */
  qkv: { weight: Float32Array; bias: Float32Array };
  oProj: Linear; // [C, C]
  attnNorm: Norm; // [C] attn_ln (bias only for LayerNorm)
  upGate: Float32Array; // [2I, C] rows [0, I) up, [I, 2I) gate; no bias
  downProj: Linear; // [C, I]
  mlpNorm: Norm; // [C] mlp_ln
}

export interface GteWeights {
  wordEmbeddings: Float32Array; // [V, C]
  tokenTypeEmbeddings: Float32Array | null; // [types, C]
  embeddingNorm: { weight: Float32Array; bias: Float32Array };
  layers: GteLayerWeights[];
  pooler: Linear | null;
  head:
    | { kind: 'none' }
    | { kind: 'mlm'; dense: Linear; norm: { weight: Float32Array; bias: Float32Array }; decoder: Float32Array; decoderBias: Float32Array }
    | { kind: 'classification' | 'token-classification'; classifier: Linear };
}

/** Encoder prefixes: none (NewModel), "new." (the head classes' base_model_prefix). */
const PREFIXES = ['', 'new.'];

function detectHead(config: GteConfig, lookup: TensorLookup): HeadKind {
  const archs = config.architectures;
  if (config.numLabels !== null) {
    if (archs.some((a) => a.endsWith('ForSequenceClassification'))) return 'classification';
    return 'token-classification';
  }
  if (lookup.has('lm_head.dense.weight')) return 'mlm';
  if (lookup.has('classifier.weight')) {
    throw new CheckpointError(
      `${lookup.fileOf('classifier.weight')}: has classifier.weight but config.json architectures ${JSON.stringify(archs)} name no *ForSequenceClassification or *ForTokenClassification, so its kind and label count are unknown`,
    );
  }
  return 'none';
}

/** Validates every tensor (presence, shape, dtype) before converting any; tensors are read at upload. */
export function loadGteWeights(config: GteConfig, lookup: TensorLookup) {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V } = config;
  const prefix = detectPrefix(lookup, PREFIXES, 'embeddings.word_embeddings.weight', 'GTE ("new")');
  checkNoExtraLayer(lookup, (i) => `${prefix}encoder.layer.${i}.attn_ln.weight`, config.numLayers);
  const hidden = `hidden_size=${C}`;
  const inter = `intermediate_size=${I}`;
  const hint = ` (config.json num_hidden_layers=${config.numLayers})`;
  const rms = config.layerNorm === 'rms_norm';
  // attn_ln / mlp_ln: LayerNorm (weight + bias) or RMSNorm (weight only); the embeddings' and lm_head's are LayerNorms.
  const layerNorm = (base: string, h = '') => normSpec(lookup, base, C, rms ? [hidden, 'layer_norm_type="rms_norm"'] : [hidden], { bias: !rms, hint: h });
  const e = `${prefix}embeddings`;
  const table = {
    word: tensorSpec(`${e}.word_embeddings.weight`, [V, C], [`vocab_size=${V}`, hidden]),
    types: config.typeTableRows > 0 ? tensorSpec(`${e}.token_type_embeddings.weight`, [config.typeTableRows, C], [`type_vocab_size=${config.typeTableRows}`, hidden]) : null,
    embeddingNorm: normSpec(lookup, `${e}.LayerNorm`, C, [hidden]),
    layers: Array.from({ length: config.numLayers }, (_, i) => {
      const p = `${prefix}encoder.layer.${i}`;
      const a = `${p}.attention`;
      const qkv = config.packQkv
        ? [linearSpec(`${a}.qkv_proj`, 3 * C, C, [hidden, 'pack_qkv=true'], { hint })]
        : ['q_proj', 'k_proj', 'v_proj'].map((n) => linearSpec(`${a}.${n}`, C, C, [hidden, 'pack_qkv=false'], { hint }));
      return {
        qkv,
        oProj: linearSpec(`${a}.o_proj`, C, C, [hidden], { hint }),
        attnNorm: layerNorm(`${p}.attn_ln`, hint),
        upGate: tensorSpec(`${p}.mlp.up_gate_proj.weight`, [2 * I, C], [`2 x ${inter}`, hidden], hint),
        downProj: linearSpec(`${p}.mlp.down_proj`, C, I, [hidden, inter], { hint }),
        mlpNorm: layerNorm(`${p}.mlp_ln`, hint),
      };
    }),
  };
  const kind = detectHead(config, lookup);
  const pooler = kind === 'classification' || lookup.has(`${prefix}pooler.dense.weight`) ? linearSpec(`${prefix}pooler.dense`, C, C, [hidden]) : null;
  const headTable =
    kind === 'mlm'
      ? {
          dense: linearSpec('lm_head.dense', C, C, [hidden]),
          norm: normSpec(lookup, 'lm_head.norm', C, [hidden]),
          // Tied to the word embeddings (not stored); a stored copy is read instead.
          decoder: lookup.has('lm_head.decoder.weight') ? tensorSpec('lm_head.decoder.weight', [V, C], [`vocab_size=${V}`, hidden]) : table.word,
          decoderBias: tensorSpec('lm_head.decoder.bias', [V], [`vocab_size=${V}`]),
        }
      : kind === 'classification' || kind === 'token-classification'
        ? { classifier: linearSpec('classifier', config.numLabels!, C, [`num_labels=${config.numLabels}`, hidden]) }
        : {};
  const summary = checkTable(lookup, specsOf([table, pooler, headTable]));
  // Lazy properties: each tensor is read (and converted to f32) only when createModel uploads it.
  type Pair = { weight: TensorSpec; bias: TensorSpec | null };
  const linear = (t: Pair): Linear => lazySection(lookup, t);
  const read = (spec: TensorSpec) => lookup.toFloat32(spec.name);
  /** [3C, C] + [3C]: qkv_proj as stored, or q_proj / k_proj / v_proj stacked in that order (the same rows). */
  const stackedQkv = (parts: Pair[]) => {
    const stack = (arrays: Float32Array[]) => arrays.reduce((out, a, i) => (out.set(a, i * a.length), out), new Float32Array(arrays.reduce((n, a) => n + a.length, 0)));
    return { weight: stack(parts.map((q) => read(q.weight))), bias: stack(parts.map((q) => read(q.bias!))) };
  };
  let head: GteWeights['head'] = { kind: 'none' };
  if (kind === 'mlm') {
    const h = headTable as { dense: Pair; norm: Pair; decoder: TensorSpec; decoderBias: TensorSpec };
    head = Object.defineProperties(
      { kind, dense: linear(h.dense), norm: lazySection(lookup, h.norm) as { weight: Float32Array; bias: Float32Array } },
      Object.getOwnPropertyDescriptors(lazySection(lookup, { decoder: h.decoder, decoderBias: h.decoderBias })),
    ) as GteWeights['head'];
  } else if (kind === 'classification' || kind === 'token-classification') {
    head = { kind, classifier: linear((headTable as { classifier: Pair }).classifier) };
  }
  const weights: GteWeights = Object.defineProperties(
    {
      embeddingNorm: lazySection(lookup, table.embeddingNorm) as { weight: Float32Array; bias: Float32Array },
      layers: table.layers.map((l) =>
        Object.defineProperties(
          { oProj: linear(l.oProj), attnNorm: linear(l.attnNorm), downProj: linear(l.downProj), mlpNorm: linear(l.mlpNorm) },
          {
            qkv: { enumerable: true, get: () => stackedQkv(l.qkv) },
            upGate: { enumerable: true, get: () => read(l.upGate) },
          },
        ) as GteLayerWeights,
      ),
      pooler: pooler && linear(pooler),
      head,
    },
    Object.getOwnPropertyDescriptors(lazySection(lookup, { wordEmbeddings: table.word, tokenTypeEmbeddings: table.types })),
  ) as GteWeights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

type Tensor2 = LinearTensors;

interface LayerTensors {
  /** (3C, C) per-head [q_h; k_h; v_h] rows, q and k rows of each head in adjacent-pair order; + (3C) bias. */
  qkv: Tensor2;
  oProj: Tensor2; // (C, C)
  attnNorm: Tensor2; // (C) (+ bias for LayerNorm)
  /** (2I, C) rows gate 0, up 0, gate 1, ...: the GLU epilogue computes act(gate) * up. */
  upGate: Tensor2;
  downProj: Tensor2; // (C, I)
  mlpNorm: Tensor2;
}

type HeadTensors =
  | { kind: 'none' }
  | { kind: 'mlm'; dense: Tensor2; norm: Tensor2; decoder: RowChunkedLinear /* (V, C) + (V) */ }
  | { kind: 'classification' | 'token-classification'; classifier: Tensor2 };

export class GteModel implements EncoderModel {
  readonly positionOffset = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly config: GteConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly k: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: { word: EmbeddingTable; types: GPUTensor | null; norm: Tensor2 },
    private readonly layers: LayerTensors[],
    private readonly pooler: Tensor2 | null,
    private readonly head: HeadTensors,
    private readonly rope: GPUTensor,
    readonly dtype: ModelDtype,
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' || this.head.kind === 'token-classification' ? this.head.classifier.weight.shape[0] : 0;
  }

  get hasPooler(): boolean {
    return this.pooler !== null;
  }

  static async create(device: GPUDevice, config: GteConfig, weights: GteWeights, options: ModelOptions = {}): Promise<GteModel> {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, vocabSize: V, maxLength } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, { head: weights.head.kind, pooler: weights.pooler !== null });
    const upNorm = (label: string, n: Norm): Tensor2 => ({ weight: arena.tensor(label, n.weight, [C]), bias: n.bias && arena.tensor(`${label}.bias`, n.bias, [C]) });
    const upLinear = (label: string, l: Linear, shape: [number, number]): Tensor2 => arena.linear(label, l.weight, l.bias, shape);
    // qkv rows [q | k | v] -> per-head, rotate-half q/k rows reordered for the kernel's adjacent-pair RoPE (rotaryQkvRows).
    const qkvRows = (w: Float32Array, K: number) => rotaryQkvRows(w, H, D, K);
    const layers: LayerTensors[] = [];
    for (const [i, w] of weights.layers.entries()) {
      const L = `layer${i}`;
      const qkv = w.qkv;
      layers.push({
        qkv: arena.linear(`${L}.qkv`, qkvRows(qkv.weight, C), qkvRows(qkv.bias, 1), [3 * C, C]),
        oProj: upLinear(`${L}.o_proj`, w.oProj, [C, C]),
        attnNorm: upNorm(`${L}.attn_ln`, w.attnNorm),
        // up_gate_proj rows [up; gate]: the gate is the activated half, which the GLU row order puts first.
        upGate: arena.linear(`${L}.up_gate_proj`, interleaveGateUp(swapHalves(w.upGate), C), null, [2 * I, C]),
        downProj: upLinear(`${L}.down_proj`, w.downProj, [C, I]),
        mlpNorm: upNorm(`${L}.mlp_ln`, w.mlpNorm),
      });
      await drainUploads(device); // one layer's staging copies at a time
    }
    const types = weights.tokenTypeEmbeddings;
    const embeddings = {
      word: arena.embeddingTable('word_embeddings', weights.wordEmbeddings, V, C),
      types: types && arena.tensor('token_type_embeddings', types, [config.typeTableRows, C]),
      norm: upNorm('embeddings.LayerNorm', weights.embeddingNorm),
    };
    const pooler = weights.pooler && upLinear('pooler', weights.pooler, [C, C]);
    let head: HeadTensors = { kind: 'none' };
    const h = weights.head;
    if (h.kind === 'mlm') {
      head = {
        kind: 'mlm',
        dense: upLinear('lm_head.dense', h.dense, [C, C]),
        norm: upNorm('lm_head.norm', h.norm),
        decoder: arena.rowChunkedLinear('lm_head.decoder', h.decoder, h.decoderBias, V, C),
      };
    } else if (h.kind === 'classification' || h.kind === 'token-classification') {
      const labels = h.classifier.weight.length / C;
      head = { kind: h.kind, classifier: upLinear('classifier', h.classifier, [labels, C]) };
    }
    // Fixed frequencies (NTK scaling is not length-dependent here): one table for every call.
    const rope = arena.tensor('rope', ropeTableFromFrequencies(maxLength, gteInverseFrequencies(config)), [maxLength, D / 2, 2]);
    return new GteModel(device, config, arena, kernels, embeddings, layers, pooler, head, rope, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * The forward pass for N tokens in S sequences. Shapes: C hidden, H heads of D, I intermediate,
   * V vocabulary. Post-norm: x = attn_ln(x + o_proj(attn(x))); x = mlp_ln(x + down_proj(gelu(gate) * up)).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, layerNormEps: eps } = this.config;
    const k = this.k;
    const N = tokens;
    const S = sequences;
    const e = this.embeddings;
    // type_vocab_size >= 2: the caller's ids; 1: a zero buffer nobody writes (the reference zeroes the ids).
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: e.types !== null && this.config.typeTableRows > 1 });
    const { alloc, dispatches: d } = p;
    const { inputIds, tokenTypeIds, attentionMask, positions, attentionTiles, sequenceTable } = p.inputs;
    const zeroTypes = e.types && this.config.typeTableRows === 1 ? alloc('token_type_zeros', [N]) : null; // (N) u32, all 0
    const xA = alloc('residual_a', [N, C]); // (N, C) layer input / output
    const xB = alloc('residual_b', [N, C]); // (N, C) after attn_ln
    const sum = alloc('residual_sum', [N, C]); // (N, C) x + sublayer(x), before its norm
    const { qkv, q, k: kk, v, attn } = rotaryAttentionBuffers(alloc, N, H, D); // qkv (N, 3C); q, k, v (H, N, D); attention_out (N, C)
    const glu = alloc('glu_out', [N, I]); // (N, I) gelu(gate) * up
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const norm = (label: string, x: GPUTensor, n: Tensor2, out: GPUTensor) =>
      n.bias ? k.layerNorm.createDispatch(label, x, n.weight, n.bias, out, eps) : k.rmsNorm!.createDispatch(label, x, n.weight, out, eps);
    const mm = (label: string, kernel: MatmulKernel | null, x: GPUTensor, w: Tensor2, out: GPUTensor, residual?: GPUTensor) => matmulDispatch(label, kernel!, x, w, out, residual);

    const typeIds = tokenTypeIds ?? zeroTypes;
    const typeExtras = e.types && typeIds ? { typeIds, typeTable: e.types } : {};
    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, e.word, sum, typeExtras)); // (N, C) word (+ type)
    d.push(norm('embeddings.LayerNorm', sum, e.norm, xA)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      const out = i === this.layers.length - 1 ? last : xA;
      d.push(mm(`${L}.qkv`, k.matmulBias, xA, w.qkv, qkv)); // (N, 3C)
      d.push(k.rope.createDispatch(`${L}.rope`, qkv, this.rope, positions, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, attentionMask, attentionTiles, attn)); // (N, C)
      d.push(mm(`${L}.o_proj`, k.matmulBiasResidual, attn, w.oProj, sum, xA)); // (N, C) xA + o Wo^T + bo
      d.push(norm(`${L}.attn_ln`, sum, w.attnNorm, xB)); // (N, C)
      d.push(mm(`${L}.up_gate_proj`, k.glu, xB, w.upGate, glu)); // (N, I)
      d.push(mm(`${L}.down_proj`, k.matmulBiasResidual, glu, w.downProj, sum, xB)); // (N, C) xB + g Wd^T + bd
      d.push(norm(`${L}.mlp_ln`, sum, w.mlpNorm, out)); // (N, C)
    });
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4
    const poolerOutput = poolerDispatch(p, k.matmulBiasTanh, pooled.pooledCls, this.pooler); // (S, C) tanh(cls Wp^T + bp)

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      // (M = N or R rows, C) -> act(x Wd^T + bd) -> LayerNorm -> (M, V)
      const labels = { dense: 'lm_head.dense', denseOut: 'lm_head_dense', norm: 'lm_head.norm', normOut: 'lm_head_norm', decoder: 'lm_head.decoder' };
      const mlm = { gather: k.gather!, dense: k.head!, decoder: k.matmulBias };
      ({ logits, logitRows } = mlmTransformDispatches(p, mlm, (label, x, out) => norm(label, x, head.norm, out), head, last, options.logitRows, labels));
    } else if (options.logits && head.kind === 'classification') {
      logits = alloc('logits', [S, this.numLabels]); // (S, labels) classifier(pooler_output)
      d.push(mm('classifier', k.matmulBias, poolerOutput!, head.classifier, logits));
    } else if (options.logits && head.kind === 'token-classification') {
      logits = alloc('logits', [N, this.numLabels]); // (N, labels) classifier(h) per token
      d.push(mm('classifier', k.matmulBias, last, head.classifier, logits));
    }
    return p.finish({ lastHiddenState: last, pooled, poolerOutput, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

/** The pipelines a GTE forward uses, compiled once (only those the config and head need). */
function createKernels(arena: WeightArena, config: GteConfig, has: { head: HeadKind; pooler: boolean }) {
  const { device, dtype: weightDtype, options } = arena;
  const arithmetic = modelArithmetic(device, options);
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic };
  const mlm = has.head === 'mlm';
  return arena.kernels({
    embedding: EmbeddingKernel.create(device, config.hiddenSize, { tokenTypes: config.typeTableRows > 0 }),
    gather: mlm ? EmbeddingKernel.create(device, config.hiddenSize) : null, // the MLM head's logit rows
    layerNorm: LayerNormKernel.create(device, { bias: true }), // embeddings, LayerNorm layers, lm_head.norm
    rmsNorm: config.layerNorm === 'rms_norm' ? RMSNormKernel.create(device) : null, // attn_ln / mlp_ln
    matmulBias: MatmulKernel.create(device, { ...m, bias: true }), // qkv, classifier, decoder
    matmulBiasResidual: MatmulKernel.create(device, { ...m, bias: true, residual: true }), // o_proj, down_proj
    glu: MatmulKernel.create(device, { ...m, glu: config.gluActivation }), // up_gate_proj
    head: mlm ? MatmulKernel.create(device, { ...m, bias: true, activation: config.headActivation }) : null, // lm_head.dense
    matmulBiasTanh: has.pooler ? MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }) : null, // pooler
    ...rotaryAttentionKernels(device, config.numHeads, config.headDim, arithmetic),
  });
}

export const gte: Architecture<GteConfig, GteWeights> = {
  name: 'GTE',
  modelTypes: ['new'],
  fixtureFamilies: ['gte'],
  parseConfig: parseGteConfig,
  loadWeights: loadGteWeights,
  createModel: (device, config, weights, options) => GteModel.create(device, config, weights, options),
  layerMatmuls: ({ hiddenSize: C, intermediateSize: I }) => [
    { name: 'qkv_proj', N: 3 * C, K: C },
    { name: 'o_proj', N: C, K: C },
    { name: 'up_gate_proj', N: 2 * I, K: C }, // GeGLU: up and gate in one matmul
    { name: 'down_proj', N: C, K: I },
  ],
};
