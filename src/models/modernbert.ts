// ModernBERT (answerdotai/ModernBERT-*, Hugging Face transformers' modeling_modernbert):
// pre-LayerNorm encoder without position embeddings; fused Wqkv; rotate-half RoPE with a global
// theta in every global_attn_every_n_layers-th layer and a local theta elsewhere, where attention
// is limited to a sliding window (|i - j| <= local_attention / 2); GeGLU MLP; final LayerNorm.
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
import { interleaveGateUp, interleaveGateUpBias, interleaveQkvHeads, permuteRotateHalf } from '../weight-layout';
import { drainUploads } from '../gpu';
import { ropeTable } from '../tables';
import { checkTensors, countDtypes, elementsOf, lazyTensors, type TensorLookup, type TensorSpec } from '../tensor-table';
import { destroyAll, embeddingDispatches, linearDispatches, logitRowsInput, modelArithmetic, pooledOutputs, planAllocator, uploadEmbeddingTable, uploadRowChunkedLinear, uploadTensor, uploadWeight, type EmbeddingTable, type RowChunkedLinear } from './common';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

const HEAD_ACTIVATIONS: Record<string, MatmulActivation> = {
  gelu: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
  tanh: 'tanh',
};
/** hidden_activation values of the GeGLU (act(input) * gate) and the GLU epilogue computing each. */
const GLU_ACTIVATIONS: Record<string, 'gelu' | 'silu'> = { gelu: 'gelu', silu: 'silu', swish: 'silu' };

export interface ModernBertConfig extends EncoderConfig {
  intermediateSize: number;
  normEps: number;
  normBias: boolean;
  attentionBias: boolean;
  mlpBias: boolean;
  classifierBias: boolean;
  /** GLU activation of the MLP (hidden_activation). */
  hiddenActivation: 'gelu' | 'silu';
  /** Head activation (classifier_activation), as a matmul epilogue. */
  classifierActivation: MatmulActivation;
  classifierPooling: 'cls' | 'mean';
  /** Per layer: true for global attention, false for the sliding window. */
  globalLayers: boolean[];
  globalRopeTheta: number;
  localRopeTheta: number;
  /** local_attention: the whole window; a token sees keys within half of it on each side. */
  localAttention: number;
}

function ropeTheta(r: ConfigReader, kind: 'full_attention' | 'sliding_attention', legacyField: string, fallback: number): number {
  const params = r.fields['rope_parameters'] as Record<string, { rope_theta?: unknown; rope_type?: unknown }> | undefined | null;
  const entry = params?.[kind];
  if (entry?.rope_type !== undefined && entry.rope_type !== 'default') r.fail(`rope_parameters.${kind}.rope_type ${JSON.stringify(entry.rope_type)} is not supported (only "default")`);
  const value = entry?.rope_theta ?? r.fields[legacyField] ?? fallback;
  if (typeof value !== 'number' || !(value > 0)) r.fail(`the ${kind} RoPE theta must be a number > 0, got ${JSON.stringify(value)}`);
  return value as number;
}

export function parseModernBertConfig(json: unknown, where: string): ModernBertConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'modernbert';
  if (modelType !== 'modernbert') r.fail(`model_type is ${JSON.stringify(modelType)}, expected "modernbert"`);
  const hiddenSize = r.integer('hidden_size', 1);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const intermediateSize = r.integer('intermediate_size', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const maxLength = r.integer('max_position_embeddings', 1, 8192);
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0) r.fail(`hidden_size=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  let globalLayers: boolean[];
  const layerTypes = r.fields['layer_types'];
  if (layerTypes !== undefined && layerTypes !== null) {
    if (!Array.isArray(layerTypes) || layerTypes.length !== numLayers || !layerTypes.every((t) => t === 'full_attention' || t === 'sliding_attention')) {
      r.fail(`layer_types must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers, got ${JSON.stringify(layerTypes)}`);
    }
    globalLayers = (layerTypes as string[]).map((t) => t === 'full_attention');
  } else {
    const every = r.integer('global_attn_every_n_layers', 1, 3);
    globalLayers = Array.from({ length: numLayers }, (_, i) => i % every === 0);
  }
  const localAttention = r.integer('local_attention', 2, 128);
  const hiddenAct = r.choice('hidden_activation', Object.keys(GLU_ACTIVATIONS), 'gelu');
  const classifierAct = r.choice('classifier_activation', Object.keys(HEAD_ACTIVATIONS), 'gelu');
  const architectures = r.architectures();
  return {
    modelType: 'modernbert',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength,
    padTokenId: r.padTokenId(vocabSize, Math.min(50283, vocabSize - 1)),
    typeVocabSize: 0,
    ...r.labels(architectures.some((a) => a.endsWith('ForSequenceClassification'))),
    intermediateSize,
    normEps: r.positive('norm_eps', 1e-5),
    normBias: r.boolean('norm_bias', false),
    attentionBias: r.boolean('attention_bias', false),
    mlpBias: r.boolean('mlp_bias', false),
    classifierBias: r.boolean('classifier_bias', false),
    hiddenActivation: GLU_ACTIVATIONS[hiddenAct],
    classifierActivation: HEAD_ACTIVATIONS[classifierAct],
    classifierPooling: r.choice('classifier_pooling', ['cls', 'mean'] as const, 'cls'),
    globalLayers,
    globalRopeTheta: ropeTheta(r, 'full_attention', 'global_rope_theta', 160000),
    localRopeTheta: ropeTheta(r, 'sliding_attention', 'local_rope_theta', 10000),
    localAttention,
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

type Linear = { weight: Float32Array; bias: Float32Array | null };
type Norm = { weight: Float32Array; bias: Float32Array | null };

export interface ModernBertLayerWeights {
  attnNorm: Norm | null; // [C]; layer 0 has none (identity)
  wqkv: Linear; // [3C, C]: rows q (head-major), k, v
  wo: Linear; // [C, C]
  mlpNorm: Norm; // [C]
  wi: Linear; // [2I, C]: rows [0, I) input, [I, 2I) gate
  wo2: Linear; // [C, I] (mlp.Wo)
}

export interface ModernBertWeights {
  embeddings: Float32Array; // [V, C]
  embeddingNorm: Norm;
  layers: ModernBertLayerWeights[];
  finalNorm: Norm;
  head:
    | { kind: 'none' }
    | { kind: 'mlm'; dense: Linear; norm: Norm; decoder: Float32Array /* [V, C] */; decoderBias: Float32Array | null }
    | { kind: 'classification'; dense: Linear; norm: Norm; classifier: Linear };
}

function detectHead(config: ModernBertConfig, lookup: TensorLookup): HeadKind {
  if (config.numLabels !== null) return 'classification';
  if (lookup.has('head.dense.weight') && (lookup.has('decoder.bias') || lookup.has('decoder.weight'))) return 'mlm';
  if (lookup.has('classifier.weight')) {
    throw new CheckpointError(
      `${lookup.fileOf('classifier.weight')}: has classifier.weight but config.json architectures ${JSON.stringify(config.architectures)} name no *ForSequenceClassification, so the label count is unknown`,
    );
  }
  return 'none';
}

/** Validates every tensor (presence, shape, dtype) before converting any, then converts all to f32. */
export function loadModernBertWeights(config: ModernBertConfig, lookup: TensorLookup) {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V } = config;
  const prefix = ['', 'model.'].find((p) => lookup.has(`${p}embeddings.tok_embeddings.weight`));
  if (prefix === undefined) throw new CheckpointError(`${lookup.label}: no embeddings.tok_embeddings.weight (with or without "model."); is this a ModernBERT checkpoint?`);
  const extra = `${prefix}layers.${config.numLayers}.attn.Wqkv.weight`;
  if (lookup.has(extra)) throw new CheckpointError(`${lookup.fileOf(extra)}: has tensor ${extra}, more layers than config.json num_hidden_layers=${config.numLayers}`);
  const specs: TensorSpec[] = [];
  const hidden = `hidden_size=${C}`;
  const hint = ` (config.json num_hidden_layers=${config.numLayers})`;
  const take = (name: string, shape: number[], because: string[], missingHint = '') => {
    specs.push({ name, shape, because, missingHint });
    return name;
  };
  const linear = (base: string, out: number, inp: number, bias: boolean, because: string[], h = '') => ({
    weight: take(`${base}.weight`, [out, inp], because, h),
    bias: bias ? take(`${base}.bias`, [out], [...because, 'bias from config.json']) : null,
  });
  const norm = (base: string, h = '') => ({ weight: take(`${base}.weight`, [C], [hidden], h), bias: config.normBias ? take(`${base}.bias`, [C], [hidden, 'norm_bias=true']) : null });
  const embeddings = take(`${prefix}embeddings.tok_embeddings.weight`, [V, C], [`vocab_size=${V}`, hidden]);
  const embeddingNorm = norm(`${prefix}embeddings.norm`);
  const layers = Array.from({ length: config.numLayers }, (_, i) => {
    const p = `${prefix}layers.${i}`;
    return {
      attnNorm: i === 0 ? null : norm(`${p}.attn_norm`, hint),
      wqkv: linear(`${p}.attn.Wqkv`, 3 * C, C, config.attentionBias, [hidden], hint),
      wo: linear(`${p}.attn.Wo`, C, C, config.attentionBias, [hidden], hint),
      mlpNorm: norm(`${p}.mlp_norm`, hint),
      wi: linear(`${p}.mlp.Wi`, 2 * I, C, config.mlpBias, [`intermediate_size=${I}`, hidden], hint),
      wo2: linear(`${p}.mlp.Wo`, C, I, config.mlpBias, [hidden, `intermediate_size=${I}`], hint),
    };
  });
  const finalNorm = norm(`${prefix}final_norm`);
  const kind = detectHead(config, lookup);
  let head: unknown = null;
  if (kind === 'mlm') {
    const decoder = lookup.has('decoder.weight') ? take('decoder.weight', [V, C], [`vocab_size=${V}`, hidden]) : embeddings; // tied when absent
    head = {
      dense: linear('head.dense', C, C, config.classifierBias, [hidden]),
      norm: norm('head.norm'),
      decoder,
      decoderBias: lookup.has('decoder.bias') ? take('decoder.bias', [V], [`vocab_size=${V}`]) : null,
    };
  } else if (kind === 'classification') {
    head = {
      dense: linear('head.dense', C, C, config.classifierBias, [hidden]),
      norm: norm('head.norm'),
      classifier: linear('classifier', config.numLabels!, C, true, [`num_labels=${config.numLabels}`, hidden]),
    };
  }
  checkTensors(lookup, specs);
  // Lazy properties: each tensor is read (and converted to f32) only when createModel uploads it.
  const readPair = (t: { weight: string; bias: string | null }): { weight: Float32Array; bias: Float32Array | null } =>
    t.bias === null ? Object.assign(lazyTensors(lookup, { weight: t.weight }), { bias: null }) : lazyTensors(lookup, { weight: t.weight, bias: t.bias });
  let headWeights: ModernBertWeights['head'] = { kind: 'none' };
  if (kind === 'mlm') {
    const h = head as { dense: { weight: string; bias: string | null }; norm: { weight: string; bias: string | null }; decoder: string; decoderBias: string | null };
    // decoder (tied: the token embeddings, read again at upload) and decoderBias as lazy properties
    const decoder = readPair({ weight: h.decoder, bias: h.decoderBias });
    headWeights = Object.defineProperties({ kind, dense: readPair(h.dense), norm: readPair(h.norm) }, {
      decoder: { enumerable: true, get: () => decoder.weight },
      decoderBias: { enumerable: true, get: () => decoder.bias },
    }) as ModernBertWeights['head'];
  } else if (kind === 'classification') {
    const h = head as Record<'dense' | 'norm' | 'classifier', { weight: string; bias: string | null }>;
    headWeights = { kind, dense: readPair(h.dense), norm: readPair(h.norm), classifier: readPair(h.classifier) };
  }
  const tokEmbeddings = lazyTensors(lookup, { embeddings });
  const weights: ModernBertWeights = {
    get embeddings() {
      return tokEmbeddings.embeddings;
    },
    embeddingNorm: readPair(embeddingNorm),
    layers: layers.map((l) => ({
      attnNorm: l.attnNorm && readPair(l.attnNorm),
      wqkv: readPair(l.wqkv),
      wo: readPair(l.wo),
      mlpNorm: readPair(l.mlpNorm),
      wi: readPair(l.wi),
      wo2: readPair(l.wo2),
    })),
    finalNorm: readPair(finalNorm),
    head: headWeights,
  };
  const names = [...new Set(specs.map((s) => s.name))];
  return { weights, dtypes: countDtypes(lookup, names), parameterCount: elementsOf(lookup, names) };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

type Tensor2 = { weight: GPUTensor; bias: GPUTensor | null };

interface LayerTensors {
  attnNorm: Tensor2 | null;
  /** (3C, C) per-head [q_h; k_h; v_h] rows, q and k rows of each head in rotate-half pair order (see create). */
  wqkv: Tensor2;
  wo: Tensor2; // (C, C)
  mlpNorm: Tensor2;
  wi: Tensor2; // (2I, C) rows input 0, gate 0, input 1, ... (interleaveGateUp)
  wo2: Tensor2; // (C, I)
  global: boolean;
}

type HeadTensors =
  | { kind: 'none' }
  | { kind: 'mlm'; dense: Tensor2; norm: Tensor2; decoder: RowChunkedLinear /* (V, C) + (V) */ }
  | { kind: 'classification'; dense: Tensor2; norm: Tensor2; classifier: Tensor2 };

export class ModernBertModel implements EncoderModel {
  readonly hasPooler = false;
  readonly positionOffset = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly config: ModernBertConfig,
    private readonly k: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: EmbeddingTable, // (V, C) in row chunks
    private readonly embeddingNorm: Tensor2,
    private readonly layers: LayerTensors[],
    private readonly finalNorm: Tensor2,
    private readonly head: HeadTensors,
    private readonly ropeGlobal: GPUTensor,
    private readonly ropeLocal: GPUTensor,
    readonly dtype: ModelDtype,
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.classifier.weight.shape[0] : 0;
  }

  static async create(device: GPUDevice, config: ModernBertConfig, weights: ModernBertWeights, options: ModelOptions = {}): Promise<ModernBertModel> {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, vocabSize: V, maxLength } = config;
    const dtype = options.dtype ?? 'f32';
    const kernels = await createKernels(device, config, dtype, options);
    const up = (label: string, data: Float32Array, shape: number[]) => uploadTensor(device, label, data, shape);
    const upW = (label: string, data: Float32Array, shape: number[]) => uploadWeight(device, dtype, label, data, shape);
    const upNorm = (label: string, n: Norm): Tensor2 => ({ weight: up(label, n.weight, [C]), bias: n.bias && up(`${label}.bias`, n.bias, [C]) });
    const upLinear = (label: string, l: Linear, shape: number[], bias = l.bias): Tensor2 => ({
      weight: upW(label, l.weight, shape),
      bias: bias && up(`${label}.bias`, bias, [shape[0]]),
    });
    // Wqkv rows [q; k; v] -> per-head [q_h; k_h; v_h] (what rope_qkv reads), with q and k rows of
    // each head reordered (i, i + D/2) -> (2i, 2i + 1): rotate-half RoPE then is the adjacent-pair
    // RoPE of the kernel, and q.k is unchanged because q and k share the permutation.
    const qkvRows = (w: Float32Array, K: number) => {
      const [q, k, v] = [0, 1, 2].map((j) => w.subarray(j * C * K, (j + 1) * C * K));
      return interleaveQkvHeads(permuteRotateHalf(q, H, D, K), permuteRotateHalf(k, H, D, K), v, H, D, K);
    };
    const layers: LayerTensors[] = [];
    for (const [i, w] of weights.layers.entries()) {
      const L = `layer${i}`;
      layers.push({
        attnNorm: w.attnNorm && upNorm(`${L}.attn_norm`, w.attnNorm),
        wqkv: { weight: upW(`${L}.Wqkv`, qkvRows(w.wqkv.weight, C), [3 * C, C]), bias: w.wqkv.bias && up(`${L}.Wqkv.bias`, qkvRows(w.wqkv.bias, 1), [3 * C]) },
        wo: upLinear(`${L}.attn.Wo`, w.wo, [C, C]),
        mlpNorm: upNorm(`${L}.mlp_norm`, w.mlpNorm),
        wi: upLinear(`${L}.Wi`, { weight: interleaveGateUp(w.wi.weight, C), bias: null }, [2 * I, C], w.wi.bias && interleaveGateUpBias(w.wi.bias)),
        wo2: upLinear(`${L}.mlp.Wo`, w.wo2, [C, I]),
        global: config.globalLayers[i],
      });
      await drainUploads(device); // one layer's staging copies at a time
    }
    let head: HeadTensors = { kind: 'none' };
    const h = weights.head;
    if (h.kind === 'mlm') {
      head = {
        kind: 'mlm',
        dense: upLinear('head.dense', h.dense, [C, C]),
        norm: upNorm('head.norm', h.norm),
        decoder: uploadRowChunkedLinear(device, dtype, 'decoder', h.decoder, h.decoderBias ?? new Float32Array(V), V, C, options.maxChunkRows),
      };
    } else if (h.kind === 'classification') {
      const labels = h.classifier.weight.length / C;
      head = { kind: 'classification', dense: upLinear('head.dense', h.dense, [C, C]), norm: upNorm('head.norm', h.norm), classifier: upLinear('classifier', h.classifier, [labels, C]) };
    }
    return new ModernBertModel(
      device,
      config,
      kernels,
      uploadEmbeddingTable(device, 'tok_embeddings', weights.embeddings, V, C, options.maxChunkRows),
      upNorm('embeddings.norm', weights.embeddingNorm),
      layers,
      upNorm('final_norm', weights.finalNorm),
      head,
      up('rope.global', ropeTable(maxLength, D, config.globalRopeTheta), [maxLength, D / 2, 2]),
      up('rope.local', ropeTable(maxLength, D, config.localRopeTheta), [maxLength, D / 2, 2]),
      dtype,
    );
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
   * V vocabulary. Pre-LN: x = x + Wo attn(LN(x)); x = x + Wo2 (gelu(input) * gate)(LN(x)).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, normEps: eps, localAttention } = this.config;
    const k = this.k;
    const N = tokens;
    const S = sequences;
    const { alloc, tensors, destroy, dispatches } = planAllocator(this.device);
    const inputIds = alloc('input_ids', [N]); // (N) u32
    const attentionMask = alloc('attention_mask', [N]); // (N) u32
    const positions = alloc('positions', [N]); // (N) u32
    const attentionTiles = alloc('attention_tiles', [AttentionKernel.maxTiles(N, S), 4]); // (tiles, 4) u32
    const sequenceTable = alloc('sequence_table', [S, 4]); // (S, 4) u32
    const xA = alloc('residual_a', [N, C]); // (N, C) residual stream, ping
    const xB = alloc('residual_b', [N, C]); // (N, C) residual stream, pong
    const normed = alloc('normed', [N, C]); // (N, C) LN(x) before attention / MLP
    const qkv = alloc('qkv', [N, 3 * C]); // (N, H*3*D) per-head interleaved
    const q = alloc('q', [H, N, D]); // (H, N, D) after RoPE
    const kk = alloc('k', [H, N, D]); // (H, N, D) after RoPE
    const v = alloc('v', [H, N, D]); // (H, N, D)
    const attn = alloc('attention_out', [N, C]); // (N, H*D)
    const glu = alloc('glu_out', [N, I]); // (N, I) gelu(input) * gate
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const halfWindow = Math.floor(localAttention / 2);
    const ln = (label: string, x: GPUTensor, n: Tensor2, out: GPUTensor) => (n.bias ? k.layerNormBias : k.layerNorm).createDispatch(label, x, n.weight, n.bias, out, eps);
    const mm = (label: string, x: GPUTensor, w: Tensor2, out: GPUTensor, kind: 'plain' | 'residual' | 'glu', residual?: GPUTensor) => {
      const kernel = { plain: w.bias ? k.matmulBias : k.matmul, residual: w.bias ? k.matmulBiasResidual : k.matmulResidual, glu: w.bias ? k.gluBias : k.glu }[kind];
      return kernel.createDispatch(label, x, w.weight, out, { ...(w.bias ? { bias: w.bias } : {}), ...(residual ? { residual } : {}) });
    };

    const d: Dispatch[] = dispatches; // destroy() frees their params buffers
    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, this.embeddings, xB)); // (N, C)
    d.push(ln('embedding_norm', xB, this.embeddingNorm, xA)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      let h = xA;
      if (w.attnNorm) {
        d.push(ln(`${L}.attn_norm`, xA, w.attnNorm, normed)); // (N, C)
        h = normed;
      }
      d.push(mm(`${L}.Wqkv`, h, w.wqkv, qkv, 'plain')); // (N, 3C)
      d.push(k.rope.createDispatch(`${L}.rope`, qkv, w.global ? this.ropeGlobal : this.ropeLocal, positions, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention${w.global ? '' : '.local'}`, q, kk, v, attentionMask, attentionTiles, attn, w.global ? {} : { window: halfWindow })); // (N, C)
      d.push(mm(`${L}.attn.Wo`, attn, w.wo, xB, 'residual', xA)); // (N, C) xB = xA + o Wo^T
      d.push(ln(`${L}.mlp_norm`, xB, w.mlpNorm, normed)); // (N, C)
      d.push(mm(`${L}.Wi`, normed, w.wi, glu, 'glu')); // (N, I)
      d.push(mm(`${L}.mlp.Wo`, glu, w.wo2, xA, 'residual', xB)); // (N, C) xA = xB + g Wo2^T
    });
    d.push(ln('final_norm', xA, this.finalNorm, last)); // (N, C)
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4
    const { pooledCls: cls, pooledMean: mean } = pooled;

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    const actHead = (label: string, x: GPUTensor, w: Tensor2, out: GPUTensor) =>
      (w.bias ? k.headBias : k.head).createDispatch(label, x, w.weight, out, w.bias ? { bias: w.bias } : {});
    if (options.logits && head.kind === 'mlm') {
      const rows = logitRowsInput(alloc, d, k.embedding, last, options.logitRows); // (M = N or R, C)
      logitRows = rows.rows;
      const M = rows.input.shape[0];
      const t = alloc('head_dense', [M, C]); // (M, C) act(last Wd^T)
      const tn = alloc('head_norm', [M, C]); // (M, C)
      logits = alloc('logits', [M, this.config.vocabSize]); // (M, V)
      d.push(actHead('head.dense', rows.input, head.dense, t));
      d.push(ln('head.norm', t, head.norm, tn));
      d.push(...linearDispatches(k.matmulBias, 'decoder', tn, head.decoder, logits)); // (M, V)
    } else if (options.logits && head.kind === 'classification') {
      const pooled = this.config.classifierPooling === 'mean' ? mean : cls; // (S, C)
      const t = alloc('head_dense', [S, C]); // (S, C)
      const tn = alloc('head_norm', [S, C]); // (S, C)
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      d.push(actHead('head.dense', pooled, head.dense, t));
      d.push(ln('head.norm', t, head.norm, tn));
      d.push(mm('classifier', tn, head.classifier, logits, 'plain'));
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
      outputs: { lastHiddenState: last, ...pooled, poolerOutput: null, logits },
      logitRows,
      dispatches: d,
      tensors,
      destroy,
    };
  }

  destroy(): void {
    const pair = (t: Tensor2 | null) => [t?.weight, t?.bias];
    const h = this.head;
    destroyAll([
      ...this.embeddings.chunks.map((c) => c.table),
      this.ropeGlobal,
      this.ropeLocal,
      ...pair(this.embeddingNorm),
      ...pair(this.finalNorm),
      ...this.layers.flatMap((l) => [l.attnNorm, l.wqkv, l.wo, l.mlpNorm, l.wi, l.wo2].flatMap(pair)),
      ...(h.kind === 'mlm' ? [...pair(h.dense), ...pair(h.norm), ...h.decoder.chunks.flatMap((c) => [c.weight, c.bias])] : []),
      ...(h.kind === 'classification' ? [h.dense, h.norm, h.classifier].flatMap(pair) : []),
    ]);
    for (const kernel of Object.values(this.k)) kernel.destroy();
  }
}

/** Every pipeline a ModernBERT forward uses, compiled once (variants with and without biases). */
async function createKernels(device: GPUDevice, config: ModernBertConfig, dtype: ModelDtype, options: ModelOptions) {
  const arithmetic = modelArithmetic(device, options);
  const m = { weightDtype: dtype, strategy: options.matmulStrategy, arithmetic };
  const glu = config.hiddenActivation;
  const act = config.classifierActivation;
  const [embedding, layerNorm, layerNormBias, matmul, matmulBias, matmulResidual, matmulBiasResidual, gluK, gluBias, head, headBias, rope, attention, pooling, l2norm] =
    await Promise.all([
      EmbeddingKernel.create(device, config.hiddenSize),
      LayerNormKernel.create(device, { bias: false }),
      LayerNormKernel.create(device, { bias: true }),
      MatmulKernel.create(device, { ...m }),
      MatmulKernel.create(device, { ...m, bias: true }),
      MatmulKernel.create(device, { ...m, residual: true }),
      MatmulKernel.create(device, { ...m, bias: true, residual: true }),
      MatmulKernel.create(device, { ...m, glu }),
      MatmulKernel.create(device, { ...m, glu, bias: true }),
      MatmulKernel.create(device, { ...m, activation: act }),
      MatmulKernel.create(device, { ...m, activation: act, bias: true }),
      RopeQkvKernel.create(device, config.numHeads, config.headDim, { outputDtype: arithmetic }),
      AttentionKernel.create(device, config.numHeads, config.headDim, { arithmetic }),
      PoolingKernel.create(device),
      L2NormKernel.create(device),
    ]);
  return { embedding, layerNorm, layerNormBias, matmul, matmulBias, matmulResidual, matmulBiasResidual, glu: gluK, gluBias, head, headBias, rope, attention, pooling, l2norm };
}

export const modernbert: Architecture<ModernBertConfig, ModernBertWeights> = {
  name: 'ModernBERT',
  modelTypes: ['modernbert'],
  parseConfig: parseModernBertConfig,
  loadWeights: loadModernBertWeights,
  createModel: (device, config, weights, options) => ModernBertModel.create(device, config, weights, options),
};
