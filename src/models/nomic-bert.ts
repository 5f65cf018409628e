// NomicBERT (nomic-ai/nomic-bert-2048, nomic-embed-text-v1 / v1.5; model_type "nomic_bert", the
// remote code modeling_hf_nomic_bert.py of nomic-ai/contrastors): word + token-type embeddings
// then LayerNorm (no position table); post-LayerNorm layers, BERT order; fused Wqkv; rotate-half
// RoPE over the head with base rotary_emb_base, and dynamic NTK scaling when the config sets
// rotary_scaling_factor and the batch's padded length T exceeds max_trained_positions; SwiGLU
// fc2(fc11(x) * silu(fc12(x))) with the inner size rounded up to a multiple of 256; no biases in
// the released models. Heads: MLM (SiLU transform, tied decoder) and sequence classification
// (pooler + classifier). This file is the whole architecture: config, checkpoint table, plan.
import { ConfigReader } from '../config';
import { CheckpointError } from '../errors';
import { EmbeddingKernel, LayerNormKernel, MatmulKernel, type GPUTensor, type MatmulActivation } from '../kernels';
import { interleaveGateUp, interleaveGateUpBias, stackRows } from '../weight-layout';
import { drainUploads } from '../gpu';
import { dynamicNtkBase, ropeInverseFrequencies, ropeTableFromFrequencies } from '../tables';
import { checkTable, detectHead, detectPrefix, lazySection, linearSpec, normSpec, specsOf, tensorSpec, type TensorLookup, type TensorSpec } from '../tensor-table';
import { embeddingDispatches, matmulDispatch, maxTokensForWidth, mlmTransformDispatches, modelArithmetic, PlanBuilder, poolerDispatch, pooledOutputs, WeightArena, type EmbeddingTable, type LinearTensors, type RowChunkedLinear } from './common';
import { rotaryAttentionBuffers, rotaryAttentionKernels, rotaryQkvRows } from './rotary';
import type { Architecture, BatchLayout, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

/** Gated activation_function values and the GLU epilogue of each (NomicBertBlock: silu for swiglu, F.gelu for geglu). */
const GLU_ACTIVATIONS: Record<string, 'silu' | 'gelu'> = { swiglu: 'silu', geglu: 'gelu' };
/** The gated MLP's inner size is rounded up to a multiple of this (NomciBertGatedMLP multiple_of=256). */
export const NOMIC_MLP_MULTIPLE = 256;

export interface NomicBertConfig extends EncoderConfig {
  /** fc11 / fc12 rows: n_inner (default int(8C/3)) rounded up to a multiple of 256. */
  intermediateSize: number;
  /** config.json n_inner as written (null: the 8C/3 default). */
  nInner: number | null;
  layerNormEps: number;
  /** GLU activation of the MLP (from activation_function). */
  gluActivation: 'silu' | 'gelu';
  /** The MLM transform's activation: SiLU for swiglu, exact GELU otherwise (NomicBertPredictionHeadTransform). */
  headActivation: MatmulActivation;
  qkvBias: boolean;
  fc1Bias: boolean;
  fc2Bias: boolean;
  /** Rotary dim: head dim x rotary_emb_fraction (only 1.0 is supported: the whole head). */
  rotaryDim: number;
  ropeBase: number;
  /** rotary_emb_interleaved: adjacent pairs (GPT-J) instead of rotate-half (GPT-NeoX). */
  ropeInterleaved: boolean;
  /** rotary_scaling_factor: dynamic NTK when set (truthy); null: plain RoPE at any length. */
  ropeScalingFactor: number | null;
  maxTrainedPositions: number;
}

/** Rounds n up to a multiple of m (the reference's (n + m - 1) // m * m). */
export function roundUpTo(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

export function parseNomicBertConfig(json: unknown, where: string): NomicBertConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'nomic_bert';
  if (modelType !== 'nomic_bert') r.fail(`model_type is ${JSON.stringify(modelType)}, expected "nomic_bert"`);
  const hiddenSize = r.integer('n_embd', 1);
  const numLayers = r.integer('n_layer', 1);
  const numHeads = r.integer('n_head', 1);
  // GPT-2 field names (n_embd, n_head), so not ConfigReader.headDim's BERT names in messages.
  if (hiddenSize % numHeads !== 0) r.fail(`n_embd=${hiddenSize} is not divisible by n_head=${numHeads}`);
  const headDim = hiddenSize / numHeads;
  if (headDim % 4 !== 0) r.fail(`head dim ${headDim} (n_embd/n_head) is not a multiple of 4; kernels read vec4`);
  if (hiddenSize % 4 !== 0) r.fail(`n_embd=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  const headsKv = r.fields['num_heads_kv'];
  if (headsKv !== undefined && headsKv !== null && headsKv !== numHeads) r.fail(`num_heads_kv=${JSON.stringify(headsKv)} is not supported (only n_head=${numHeads}: no grouped-query attention)`);
  // The embedding matrix has vocab_size rounded up to pad_vocab_size_multiple rows (NomicBertModel.__init__).
  const multiple = r.integer('pad_vocab_size_multiple', 1, 1);
  const vocabSize = roundUpTo(r.integer('vocab_size', 1), multiple);
  const activation = r.fields['activation_function'] ?? 'swiglu';
  if (typeof activation !== 'string' || !(activation in GLU_ACTIVATIONS)) {
    r.fail(`activation_function ${JSON.stringify(activation)} is not supported; this engine runs the gated MLPs "swiglu" and "geglu"`);
  }
  const nInner = r.fields['n_inner'] === null || r.fields['n_inner'] === undefined ? null : r.integer('n_inner', 1);
  const intermediateSize = roundUpTo(nInner ?? Math.floor((8 * hiddenSize) / 3), NOMIC_MLP_MULTIPLE);
  for (const [field, supported] of [
    ['prenorm', false],
    ['use_rms_norm', false],
    ['parallel_block', false],
    ['causal', false],
  ] as const) {
    if (r.boolean(field, supported) !== supported) r.fail(`${field}=${!supported} is not supported (the released models have ${field}=${supported})`);
  }
  const fraction = r.fields['rotary_emb_fraction'] ?? 1.0;
  if (fraction !== 1) {
    r.fail(`rotary_emb_fraction=${JSON.stringify(fraction)} is not supported; this engine runs rotary_emb_fraction 1.0 (RoPE over the whole head, as every released model)`);
  }
  if (r.has('rotary_emb_scale_base')) r.fail(`rotary_emb_scale_base=${JSON.stringify(r.fields['rotary_emb_scale_base'])} (xPos) is not supported; only null`);
  const factor = r.fields['rotary_scaling_factor'];
  if (factor !== undefined && factor !== null && factor !== 0 && factor !== false && (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 0)) {
    r.fail(`rotary_scaling_factor must be null or a number > 0, got ${JSON.stringify(factor)}`);
  }
  const architectures = r.architectures();
  return {
    modelType: 'nomic_bert',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    // n_positions is not read by the text forward (nothing caps T); it is the length the model was configured for.
    maxLength: r.integer('n_positions', 1, 2048),
    padTokenId: r.padTokenId(vocabSize, 0),
    typeVocabSize: r.integer('type_vocab_size', 0, 2),
    ...r.labels(architectures.some((a) => a.endsWith('ForSequenceClassification'))),
    intermediateSize,
    nInner,
    layerNormEps: r.positive('layer_norm_epsilon', 1e-5),
    gluActivation: GLU_ACTIVATIONS[activation as string],
    headActivation: activation === 'swiglu' ? 'silu' : 'gelu',
    qkvBias: r.boolean('qkv_proj_bias', true),
    fc1Bias: r.boolean('mlp_fc1_bias', true),
    fc2Bias: r.boolean('mlp_fc2_bias', true),
    rotaryDim: headDim,
    ropeBase: r.positive('rotary_emb_base', 10000),
    ropeInterleaved: r.boolean('rotary_emb_interleaved', false),
    ropeScalingFactor: factor ? (factor as number) : null,
    maxTrainedPositions: r.integer('max_trained_positions', 1, 2048),
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

type Linear = { weight: Float32Array; bias: Float32Array | null };
type Norm = { weight: Float32Array; bias: Float32Array };

export interface NomicBertLayerWeights {
  wqkv: Linear; // [3C, C]: rows q (head-major), k, v
  outProj: Linear; // [C, C]
  norm1: Norm; // [C]
  fc11: Linear; // [I, C] value half
  fc12: Linear; // [I, C] gated half (through the activation)
  fc2: Linear; // [C, I]
  norm2: Norm; // [C]
}

export interface NomicBertWeights {
  wordEmbeddings: Float32Array; // [V, C]
  tokenTypeEmbeddings: Float32Array | null; // [types, C]
  embeddingNorm: Norm; // emb_ln
  layers: NomicBertLayerWeights[];
  pooler: Linear | null; // [C, C] + [C]
  head:
    | { kind: 'none' }
    | { kind: 'mlm'; dense: Linear; norm: Norm; decoder: Float32Array /* [V, C], tied */; decoderBias: Float32Array | null }
    | { kind: 'classification'; classifier: Linear };
}

/** Validates every tensor (presence, shape, dtype) before converting any; tensors are read at upload. */
export function loadNomicBertWeights(config: NomicBertConfig, lookup: TensorLookup) {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V } = config;
  const prefix = detectPrefix(lookup, ['', 'bert.'], 'embeddings.word_embeddings.weight', 'NomicBERT');
  const extra = `${prefix}encoder.layers.${config.numLayers}.attn.Wqkv.weight`;
  if (lookup.has(extra)) throw new CheckpointError(`${lookup.fileOf(extra)}: has tensor ${extra}, more layers than config.json n_layer=${config.numLayers}`);
  const hidden = `n_embd=${C}`;
  const inner = `n_inner=${config.nInner ?? 'null (8 x n_embd / 3)'} rounded up to a multiple of ${NOMIC_MLP_MULTIPLE}: ${I}`;
  const hint = ` (config.json n_layer=${config.numLayers})`;
  const norm = (base: string, h = '') => normSpec(lookup, base, C, [hidden], { hint: h });
  const table = {
    word: tensorSpec(`${prefix}embeddings.word_embeddings.weight`, [V, C], [`vocab_size rounded up to pad_vocab_size_multiple: ${V}`, hidden]),
    types: config.typeVocabSize > 0 ? tensorSpec(`${prefix}embeddings.token_type_embeddings.weight`, [config.typeVocabSize, C], [`type_vocab_size=${config.typeVocabSize}`, hidden]) : null,
    embeddingNorm: norm(`${prefix}emb_ln`),
    layers: Array.from({ length: config.numLayers }, (_, i) => {
      const p = `${prefix}encoder.layers.${i}`;
      return {
        wqkv: linearSpec(`${p}.attn.Wqkv`, 3 * C, C, [hidden, `qkv_proj_bias=${config.qkvBias}`], { bias: config.qkvBias, hint }),
        outProj: linearSpec(`${p}.attn.out_proj`, C, C, [hidden, `qkv_proj_bias=${config.qkvBias}`], { bias: config.qkvBias, hint }),
        norm1: norm(`${p}.norm1`, hint),
        fc11: linearSpec(`${p}.mlp.fc11`, I, C, [inner, hidden], { bias: config.fc1Bias, hint }),
        fc12: linearSpec(`${p}.mlp.fc12`, I, C, [inner, hidden], { bias: config.fc1Bias, hint }),
        fc2: linearSpec(`${p}.mlp.fc2`, C, I, [hidden, inner], { bias: config.fc2Bias, hint }),
        norm2: norm(`${p}.norm2`, hint),
      };
    }),
  };
  const kind = detectHead(config, lookup, { mlm: [['cls.predictions.transform.dense.weight']], classifier: ['classifier.weight'], expectedArchitecture: 'NomicBertForSequenceClassification' });
  const pooler = kind === 'classification' || lookup.has(`${prefix}pooler.dense.weight`) ? linearSpec(`${prefix}pooler.dense`, C, C, [hidden]) : null;
  const base = 'cls.predictions';
  const headTable =
    kind === 'mlm'
      ? {
          dense: linearSpec(`${base}.transform.dense`, C, C, [hidden, `mlp_fc1_bias=${config.fc1Bias}`], { bias: config.fc1Bias }),
          norm: norm(`${base}.transform.layer_norm`),
          // Tied to the word embeddings (save_pretrained drops the copy); a stored one is read instead.
          decoder: lookup.has(`${base}.decoder.weight`) ? tensorSpec(`${base}.decoder.weight`, [V, C], [`vocab rows ${V}`, hidden]) : table.word,
          decoderBias: config.fc1Bias ? tensorSpec(`${base}.decoder.bias`, [V], [`vocab rows ${V}`, 'mlp_fc1_bias=true']) : null,
        }
      : kind === 'classification'
        ? { classifier: linearSpec('classifier', config.numLabels!, C, [`num_labels=${config.numLabels}`, hidden]) }
        : {};
  const summary = checkTable(lookup, specsOf([table, pooler, headTable]));
  // Lazy properties: each tensor is read (and converted to f32) only when createModel uploads it.
  type Pair = { weight: TensorSpec; bias: TensorSpec | null };
  const linear = (t: Pair): Linear => lazySection(lookup, t);
  const normWeights = (t: Pair): Norm => lazySection(lookup, t) as Norm; // LayerNorms always have a bias here
  let head: NomicBertWeights['head'] = { kind: 'none' };
  if (kind === 'mlm') {
    const h = headTable as { dense: Pair; norm: Pair; decoder: TensorSpec; decoderBias: TensorSpec | null };
    head = Object.defineProperties(
      { kind, dense: linear(h.dense), norm: normWeights(h.norm) },
      Object.getOwnPropertyDescriptors(lazySection(lookup, { decoder: h.decoder, decoderBias: h.decoderBias })),
    ) as NomicBertWeights['head'];
  } else if (kind === 'classification') {
    head = { kind, classifier: linear((headTable as { classifier: Pair }).classifier) };
  }
  const weights: NomicBertWeights = Object.defineProperties(
    {
      embeddingNorm: normWeights(table.embeddingNorm),
      layers: table.layers.map((l) => ({
        wqkv: linear(l.wqkv),
        outProj: linear(l.outProj),
        norm1: normWeights(l.norm1),
        fc11: linear(l.fc11),
        fc12: linear(l.fc12),
        fc2: linear(l.fc2),
        norm2: normWeights(l.norm2),
      })),
      pooler: pooler && linear(pooler),
      head,
    },
    Object.getOwnPropertyDescriptors(lazySection(lookup, { wordEmbeddings: table.word, tokenTypeEmbeddings: table.types })),
  ) as NomicBertWeights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

type Tensor2 = LinearTensors;
type NormTensors = { weight: GPUTensor; bias: GPUTensor };

interface LayerTensors {
  /** (3C, C) per-head [q_h; k_h; v_h] rows, q and k rows of each head in adjacent-pair order (see create). */
  wqkv: Tensor2;
  outProj: Tensor2; // (C, C)
  norm1: NormTensors;
  /** (2I, C) rows fc12 0, fc11 0, fc12 1, ...: the GLU epilogue computes act(fc12 x) * fc11 x. */
  fc1: Tensor2;
  fc2: Tensor2; // (C, I)
  norm2: NormTensors;
}

type HeadTensors =
  | { kind: 'none' }
  | { kind: 'mlm'; dense: Tensor2; norm: NormTensors; decoder: RowChunkedLinear /* (V, C) + (V) */ }
  | { kind: 'classification'; classifier: Tensor2 };

export class NomicBertModel implements EncoderModel {
  readonly positionOffset = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly config: NomicBertConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly k: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: { word: EmbeddingTable; types: GPUTensor | null; norm: NormTensors },
    private readonly layers: LayerTensors[],
    private readonly pooler: Tensor2 | null,
    private readonly head: HeadTensors,
    readonly dtype: ModelDtype,
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.classifier.weight.shape[0] : 0;
  }

  get hasPooler(): boolean {
    return this.pooler !== null;
  }

  static async create(device: GPUDevice, config: NomicBertConfig, weights: NomicBertWeights, options: ModelOptions = {}): Promise<NomicBertModel> {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, vocabSize: V } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, { mlm: weights.head.kind === 'mlm', pooler: weights.pooler !== null });
    const upNorm = (label: string, n: Norm): NormTensors => ({ weight: arena.tensor(label, n.weight, [C]), bias: arena.tensor(`${label}.bias`, n.bias, [C]) });
    const upLinear = (label: string, l: Linear, shape: [number, number]): Tensor2 => arena.linear(label, l.weight, l.bias, shape);
    // Wqkv rows [q; k; v] -> per-head, rotate-half q/k rows reordered for the kernel's adjacent-pair RoPE (rotaryQkvRows).
    const qkvRows = (w: Float32Array, K: number) => rotaryQkvRows(w, H, D, K, { interleaved: config.ropeInterleaved });
    const layers: LayerTensors[] = [];
    for (const [i, w] of weights.layers.entries()) {
      const L = `layer${i}`;
      const wqkv = w.wqkv;
      const [fc11, fc12] = [w.fc11, w.fc12];
      layers.push({
        wqkv: arena.linear(`${L}.Wqkv`, qkvRows(wqkv.weight, C), wqkv.bias && qkvRows(wqkv.bias, 1), [3 * C, C]),
        outProj: upLinear(`${L}.out_proj`, w.outProj, [C, C]),
        norm1: upNorm(`${L}.norm1`, w.norm1),
        // fc12 is the gated (activated) half: it goes first in the GLU row order.
        fc1: arena.linear(
          `${L}.fc12_fc11`,
          interleaveGateUp(stackRows(fc12.weight, fc11.weight), C),
          fc12.bias && interleaveGateUpBias(stackRows(fc12.bias, fc11.bias!)),
          [2 * I, C],
        ),
        fc2: upLinear(`${L}.fc2`, w.fc2, [C, I]),
        norm2: upNorm(`${L}.norm2`, w.norm2),
      });
      await drainUploads(device); // one layer's staging copies at a time
    }
    const types = weights.tokenTypeEmbeddings;
    const embeddings = {
      word: arena.embeddingTable('word_embeddings', weights.wordEmbeddings, V, C),
      types: types && arena.tensor('token_type_embeddings', types, [config.typeVocabSize, C]),
      norm: upNorm('emb_ln', weights.embeddingNorm),
    };
    const pooler = weights.pooler && upLinear('pooler', weights.pooler, [C, C]);
    let head: HeadTensors = { kind: 'none' };
    const h = weights.head;
    if (h.kind === 'mlm') {
      head = {
        kind: 'mlm',
        dense: upLinear('mlm.dense', h.dense, [C, C]),
        norm: upNorm('mlm.layer_norm', h.norm),
        decoder: arena.rowChunkedLinear('mlm.decoder', h.decoder, h.decoderBias ?? new Float32Array(V), V, C),
      };
    } else if (h.kind === 'classification') {
      const labels = h.classifier.weight.length / C;
      head = { kind: 'classification', classifier: upLinear('classifier', h.classifier, [labels, C]) };
    }
    return new NomicBertModel(device, config, arena, kernels, embeddings, layers, pooler, head, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * The forward pass for N tokens in S sequences. Shapes: C hidden, H heads of D, I inner, V
   * vocabulary. Post-LN: x = norm1(x + out_proj(attn(x))); x = norm2(x + fc2(fc11(x) * silu(fc12(x)))).
   * The RoPE table is a host input of the plan, filled per call for the call's base (dynamic
   * NTK: a function of the batch's padded length T).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, layerNormEps: eps } = this.config;
    const k = this.k;
    const N = tokens;
    const S = sequences;
    const e = this.embeddings;
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: e.types !== null });
    const { alloc, dispatches: d } = p;
    const { inputIds, tokenTypeIds, attentionMask, positions, attentionTiles, sequenceTable } = p.inputs;
    // Positions are < the longest sequence <= N, so N rows hold every angle this plan reads.
    const rope = p.hostInput('rope', [N, D / 2, 2], ropeFill(this.config, N)); // (N, D/2, 2) cos, sin for this call's base
    const xA = alloc('residual_a', [N, C]); // (N, C) layer input / output
    const xB = alloc('residual_b', [N, C]); // (N, C) after norm1
    const sum = alloc('residual_sum', [N, C]); // (N, C) x + sublayer(x), before its LayerNorm
    const { qkv, q, k: kk, v, attn } = rotaryAttentionBuffers(alloc, N, H, D); // qkv (N, 3C); q, k, v (H, N, D); attention_out (N, C)
    const glu = alloc('glu_out', [N, I]); // (N, I) fc11(x) * silu(fc12(x))
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const ln = (label: string, x: GPUTensor, n: NormTensors, out: GPUTensor) => k.layerNorm.createDispatch(label, x, n.weight, n.bias, out, eps);
    // The config fixes which variants exist (qkv_proj_bias, mlp_fc1_bias, mlp_fc2_bias).
    const mm = (label: string, kernel: MatmulKernel | null, x: GPUTensor, w: Tensor2, out: GPUTensor, residual?: GPUTensor) => matmulDispatch(label, kernel!, x, w, out, residual);

    const typeExtras = e.types && tokenTypeIds ? { typeIds: tokenTypeIds, typeTable: e.types } : {};
    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, e.word, sum, typeExtras)); // (N, C) word + type
    d.push(ln('emb_ln', sum, e.norm, xA)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      const out = i === this.layers.length - 1 ? last : xA;
      d.push(mm(`${L}.Wqkv`, k.qkv, xA, w.wqkv, qkv)); // (N, 3C)
      d.push(k.rope.createDispatch(`${L}.rope`, qkv, rope, positions, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, attentionMask, attentionTiles, attn)); // (N, C)
      d.push(mm(`${L}.out_proj`, k.outProj, attn, w.outProj, sum, xA)); // (N, C) xA + o Wo^T
      d.push(ln(`${L}.norm1`, sum, w.norm1, xB)); // (N, C)
      d.push(mm(`${L}.fc12_fc11`, k.glu, xB, w.fc1, glu)); // (N, I)
      d.push(mm(`${L}.fc2`, k.fc2, glu, w.fc2, sum, xB)); // (N, C) xB + g W2^T
      d.push(ln(`${L}.norm2`, sum, w.norm2, out)); // (N, C)
    });
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4
    const poolerOutput = poolerDispatch(p, k.matmulBiasTanh, pooled.pooledCls, this.pooler); // (S, C) tanh(cls Wp^T + bp)

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      // (M = N or R rows, C) -> silu(x Wd^T) -> LayerNorm -> (M, V)
      const labels = { dense: 'mlm_dense', denseOut: 'mlm_transform', norm: 'mlm_layer_norm', normOut: 'mlm_transform_norm', decoder: 'mlm_decoder' };
      const mlm = { gather: k.gather!, dense: k.head!, decoder: k.matmulBias! };
      ({ logits, logitRows } = mlmTransformDispatches(p, mlm, (label, x, out) => ln(label, x, head.norm, out), head, last, options.logitRows, labels));
    } else if (options.logits && head.kind === 'classification') {
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      d.push(mm('classifier', k.matmulBias, poolerOutput!, head.classifier, logits));
    }
    return p.finish({ lastHiddenState: last, pooled, poolerOutput, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

/**
 * The per-call RoPE table of a plan of N rows: cos/sin for the base of this call's padded length
 * (dynamicNtkBase: the config's base unless rotary_scaling_factor is set and T exceeds
 * max_trained_positions), recomputed only when the base changes.
 */
function ropeFill(config: NomicBertConfig, rows: number): (layout: BatchLayout) => Float32Array<ArrayBuffer> {
  let cached: { base: number; table: Float32Array<ArrayBuffer> } | null = null;
  return ({ paddedLength }) => {
    const base = dynamicNtkBase(config.ropeBase, config.ropeScalingFactor, paddedLength, config.maxTrainedPositions, config.rotaryDim);
    if (cached?.base !== base) cached = { base, table: ropeTableFromFrequencies(rows, ropeInverseFrequencies(config.rotaryDim, base)) };
    return cached.table;
  };
}

/** The pipelines a NomicBERT forward uses, compiled once: only the variants the config and head need. */
function createKernels(arena: WeightArena, config: NomicBertConfig, has: { mlm: boolean; pooler: boolean }) {
  const { device, dtype, options } = arena;
  const arithmetic = modelArithmetic(device, options);
  const m = { weightDtype: dtype, strategy: options.matmulStrategy, arithmetic };
  const glu = config.gluActivation;
  return arena.kernels({
    embedding: EmbeddingKernel.create(device, config.hiddenSize, { tokenTypes: config.typeVocabSize > 0 }),
    gather: has.mlm ? EmbeddingKernel.create(device, config.hiddenSize) : null, // the MLM head's logit rows
    layerNorm: LayerNormKernel.create(device, { bias: true }),
    qkv: MatmulKernel.create(device, { ...m, bias: config.qkvBias }),
    outProj: MatmulKernel.create(device, { ...m, bias: config.qkvBias, residual: true }),
    glu: MatmulKernel.create(device, { ...m, glu, bias: config.fc1Bias }),
    fc2: MatmulKernel.create(device, { ...m, bias: config.fc2Bias, residual: true }),
    matmulBias: has.mlm || config.numLabels !== null ? MatmulKernel.create(device, { ...m, bias: true }) : null, // MLM decoder, classifier
    head: has.mlm ? MatmulKernel.create(device, { ...m, activation: config.headActivation, bias: config.fc1Bias }) : null,
    matmulBiasTanh: has.pooler ? MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }) : null,
    ...rotaryAttentionKernels(device, config.numHeads, config.headDim, arithmetic),
  });
}

export const nomicBert: Architecture<NomicBertConfig, NomicBertWeights> = {
  name: 'NomicBERT',
  modelTypes: ['nomic_bert'],
  parseConfig: parseNomicBertConfig,
  loadWeights: loadNomicBertWeights,
  createModel: (device, config, weights, options) => NomicBertModel.create(device, config, weights, options),
  layerMatmuls: ({ hiddenSize: C, intermediateSize: I }) => [
    { name: 'Wqkv', N: 3 * C, K: C },
    { name: 'out_proj', N: C, K: C },
    { name: 'fc12_fc11', N: 2 * I, K: C }, // SwiGLU: fc11 and fc12 in one matmul
    { name: 'fc2', N: C, K: I },
  ],
};
