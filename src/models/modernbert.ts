// ModernBERT (answerdotai/ModernBERT-*, Hugging Face transformers' modeling_modernbert):
// pre-LayerNorm encoder without position embeddings; fused Wqkv; rotate-half RoPE with a global
// theta in every global_attn_every_n_layers-th layer and a local theta elsewhere, where attention
// is limited to a sliding window (|i - j| <= local_attention / 2); GeGLU MLP; final LayerNorm.
// This file is the whole architecture: config, checkpoint table, forward plan.
import { ConfigReader } from '../config';
import { CheckpointError } from '../errors';
import { EmbeddingKernel, LayerNormKernel, MatmulKernel, type GPUTensor, type MatmulActivation } from '../kernels';
import { interleaveGateUp, interleaveGateUpBias } from '../weight-layout';
import { drainUploads } from '../gpu';
import { ropeTable } from '../tables';
import { checkNoExtraLayer, checkTable, detectHead, detectPrefix, lazySection, linearSpec, normSpec, specsOf, tensorSpec as spec, type TensorLookup, type TensorSpec } from '../tensor-table';
import { embeddingDispatches, matmulDispatch, maxTokensForWidth, mlmTransformDispatches, modelArithmetic, pooledOutputs, PlanBuilder, WeightArena, type EmbeddingTable, type LinearTensors, type RowChunkedLinear } from './common';
import { rotaryAttentionBuffers, rotaryAttentionKernels, rotaryQkvRows } from './rotary';
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

type Pair = { weight: TensorSpec; bias: TensorSpec | null };

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadModernBertWeights(config: ModernBertConfig, lookup: TensorLookup) {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V } = config;
  const prefix = detectPrefix(lookup, ['', 'model.'], 'embeddings.tok_embeddings.weight', 'ModernBERT');
  checkNoExtraLayer(lookup, (i) => `${prefix}layers.${i}.attn.Wqkv.weight`, config.numLayers);
  const hidden = `hidden_size=${C}`;
  const hint = ` (config.json num_hidden_layers=${config.numLayers})`;
  const linear = (base: string, out: number, inp: number, bias: boolean, because: string[], h = ''): Pair => {
    const l = linearSpec(base, out, inp, because, { bias, hint: h });
    return { weight: l.weight, bias: l.bias && { ...l.bias, because: [...because, 'bias from config.json'], missingHint: '' } };
  };
  const norm = (base: string, h = ''): Pair => {
    const n = normSpec(lookup, base, C, [hidden], { bias: config.normBias, hint: h });
    return { weight: n.weight, bias: n.bias && { ...n.bias, because: [hidden, 'norm_bias=true'], missingHint: '' } };
  };
  const embeddings = spec(`${prefix}embeddings.tok_embeddings.weight`, [V, C], [`vocab_size=${V}`, hidden]);
  const table = {
    embeddings,
    embeddingNorm: norm(`${prefix}embeddings.norm`),
    layers: Array.from({ length: config.numLayers }, (_, i) => {
      const p = `${prefix}layers.${i}`;
      return {
        attnNorm: i === 0 ? null : norm(`${p}.attn_norm`, hint),
        wqkv: linear(`${p}.attn.Wqkv`, 3 * C, C, config.attentionBias, [hidden], hint),
        wo: linear(`${p}.attn.Wo`, C, C, config.attentionBias, [hidden], hint),
        mlpNorm: norm(`${p}.mlp_norm`, hint),
        wi: linear(`${p}.mlp.Wi`, 2 * I, C, config.mlpBias, [`intermediate_size=${I}`, hidden], hint),
        wo2: linear(`${p}.mlp.Wo`, C, I, config.mlpBias, [hidden, `intermediate_size=${I}`], hint),
      };
    }),
    finalNorm: norm(`${prefix}final_norm`),
  };
  const kind = detectHead(config, lookup, { mlm: [['head.dense.weight', 'decoder.bias'], ['head.dense.weight', 'decoder.weight']], classifier: ['classifier.weight'] });
  const headTable =
    kind === 'mlm'
      ? {
          dense: linear('head.dense', C, C, config.classifierBias, [hidden]),
          norm: norm('head.norm'),
          decoder: lookup.has('decoder.weight') ? spec('decoder.weight', [V, C], [`vocab_size=${V}`, hidden]) : embeddings, // tied when absent
          decoderBias: lookup.has('decoder.bias') ? spec('decoder.bias', [V], [`vocab_size=${V}`]) : null,
        }
      : kind === 'classification'
        ? {
            dense: linear('head.dense', C, C, config.classifierBias, [hidden]),
            norm: norm('head.norm'),
            classifier: linear('classifier', config.numLabels!, C, true, [`num_labels=${config.numLabels}`, hidden]),
          }
        : {};
  const summary = checkTable(lookup, specsOf([table, headTable]));
  const readPair = (t: Pair): { weight: Float32Array; bias: Float32Array | null } => lazySection(lookup, t);
  let headWeights: ModernBertWeights['head'] = { kind: 'none' };
  if (kind === 'mlm') {
    const h = headTable as { dense: Pair; norm: Pair; decoder: TensorSpec; decoderBias: TensorSpec | null };
    // decoder (tied: the token embeddings, read again at upload) and decoderBias as lazy properties
    headWeights = Object.defineProperties({ kind, dense: readPair(h.dense), norm: readPair(h.norm) }, Object.getOwnPropertyDescriptors(lazySection(lookup, { decoder: h.decoder, decoderBias: h.decoderBias }))) as ModernBertWeights['head'];
  } else if (kind === 'classification') {
    const h = headTable as Record<'dense' | 'norm' | 'classifier', Pair>;
    headWeights = { kind, dense: readPair(h.dense), norm: readPair(h.norm), classifier: readPair(h.classifier) };
  }
  const weights: ModernBertWeights = Object.defineProperties(
    {
      embeddingNorm: readPair(table.embeddingNorm),
      layers: table.layers.map((l) => ({
        attnNorm: l.attnNorm && readPair(l.attnNorm),
        wqkv: readPair(l.wqkv),
        wo: readPair(l.wo),
        mlpNorm: readPair(l.mlpNorm),
        wi: readPair(l.wi),
        wo2: readPair(l.wo2),
      })),
      finalNorm: readPair(table.finalNorm),
      head: headWeights,
    },
    Object.getOwnPropertyDescriptors(lazySection(lookup, { embeddings })),
  ) as ModernBertWeights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

type Tensor2 = LinearTensors;

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
    private readonly arena: WeightArena, // owns every tensor and kernel below
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
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, weights.head.kind);
    const upNorm = (label: string, n: Norm): Tensor2 => ({ weight: arena.tensor(label, n.weight, [C]), bias: n.bias && arena.tensor(`${label}.bias`, n.bias, [C]) });
    const upLinear = (label: string, l: Linear, shape: [number, number]): Tensor2 => arena.linear(label, l.weight, l.bias, shape);
    // Wqkv rows [q; k; v] -> per-head, rotate-half q/k rows reordered for the kernel's adjacent-pair RoPE (rotaryQkvRows).
    const qkvRows = (w: Float32Array, K: number) => rotaryQkvRows(w, H, D, K);
    const layers: LayerTensors[] = [];
    for (const [i, w] of weights.layers.entries()) {
      const L = `layer${i}`;
      layers.push({
        attnNorm: w.attnNorm && upNorm(`${L}.attn_norm`, w.attnNorm),
        wqkv: { weight: arena.weight(`${L}.Wqkv`, qkvRows(w.wqkv.weight, C), [3 * C, C]), bias: w.wqkv.bias && arena.tensor(`${L}.Wqkv.bias`, qkvRows(w.wqkv.bias, 1), [3 * C]) },
        wo: upLinear(`${L}.attn.Wo`, w.wo, [C, C]),
        mlpNorm: upNorm(`${L}.mlp_norm`, w.mlpNorm),
        wi: upLinear(`${L}.Wi`, { weight: interleaveGateUp(w.wi.weight, C), bias: w.wi.bias && interleaveGateUpBias(w.wi.bias) }, [2 * I, C]),
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
        decoder: arena.rowChunkedLinear('decoder', h.decoder, h.decoderBias ?? new Float32Array(V), V, C),
      };
    } else if (h.kind === 'classification') {
      const labels = h.classifier.weight.length / C;
      head = { kind: 'classification', dense: upLinear('head.dense', h.dense, [C, C]), norm: upNorm('head.norm', h.norm), classifier: upLinear('classifier', h.classifier, [labels, C]) };
    }
    return new ModernBertModel(
      device,
      config,
      arena,
      kernels,
      arena.embeddingTable('tok_embeddings', weights.embeddings, V, C),
      upNorm('embeddings.norm', weights.embeddingNorm),
      layers,
      upNorm('final_norm', weights.finalNorm),
      head,
      arena.tensor('rope.global', ropeTable(maxLength, D, config.globalRopeTheta), [maxLength, D / 2, 2]),
      arena.tensor('rope.local', ropeTable(maxLength, D, config.localRopeTheta), [maxLength, D / 2, 2]),
      dtype,
    );
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I, options.logits && this.head.kind === 'mlm' ? V : 0));
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
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: false });
    const { alloc, dispatches: d } = p;
    const { inputIds, attentionMask, positions, attentionTiles, sequenceTable } = p.inputs;
    const xA = alloc('residual_a', [N, C]); // (N, C) residual stream, ping
    const xB = alloc('residual_b', [N, C]); // (N, C) residual stream, pong
    const normed = alloc('normed', [N, C]); // (N, C) LN(x) before attention / MLP
    const { qkv, q, k: kk, v, attn } = rotaryAttentionBuffers(alloc, N, H, D); // qkv (N, 3C); q, k, v (H, N, D); attention_out (N, C)
    const glu = alloc('glu_out', [N, I]); // (N, I) gelu(input) * gate
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const halfWindow = Math.floor(localAttention / 2);
    // The config fixes which variants exist (norm_bias, attention_bias, mlp_bias, classifier_bias).
    const ln = (label: string, x: GPUTensor, n: Tensor2, out: GPUTensor) => k.layerNorm.createDispatch(label, x, n.weight, n.bias, out, eps);
    const mm = matmulDispatch;

    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, this.embeddings, xB)); // (N, C)
    d.push(ln('embedding_norm', xB, this.embeddingNorm, xA)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      let h = xA;
      if (w.attnNorm) {
        d.push(ln(`${L}.attn_norm`, xA, w.attnNorm, normed)); // (N, C)
        h = normed;
      }
      d.push(mm(`${L}.Wqkv`, k.attnMatmul, h, w.wqkv, qkv)); // (N, 3C)
      d.push(k.rope.createDispatch(`${L}.rope`, qkv, w.global ? this.ropeGlobal : this.ropeLocal, positions, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention${w.global ? '' : '.local'}`, q, kk, v, attentionMask, attentionTiles, attn, w.global ? {} : { window: halfWindow })); // (N, C)
      d.push(mm(`${L}.attn.Wo`, k.attnResidual, attn, w.wo, xB, xA)); // (N, C) xB = xA + o Wo^T
      d.push(ln(`${L}.mlp_norm`, xB, w.mlpNorm, normed)); // (N, C)
      d.push(mm(`${L}.Wi`, k.glu, normed, w.wi, glu)); // (N, I)
      d.push(mm(`${L}.mlp.Wo`, k.mlpResidual, glu, w.wo2, xA, xB)); // (N, C) xA = xB + g Wo2^T
    });
    d.push(ln('final_norm', xA, this.finalNorm, last)); // (N, C)
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    if (options.logits && head.kind === 'mlm') {
      // (M = N or R rows, C) -> act(x Wd^T) -> LayerNorm -> (M, V)
      const labels = { dense: 'head.dense', denseOut: 'head_dense', norm: 'head.norm', normOut: 'head_norm', decoder: 'decoder' };
      const mlm = { gather: k.embedding, dense: k.head!, decoder: k.matmulBias! };
      ({ logits, logitRows } = mlmTransformDispatches(p, mlm, (label, x, out) => ln(label, x, head.norm, out), head, last, options.logitRows, labels));
    } else if (options.logits && head.kind === 'classification') {
      const pooledRow = this.config.classifierPooling === 'mean' ? pooled.pooledMean : pooled.pooledCls; // (S, C)
      const t = alloc('head_dense', [S, C]); // (S, C)
      const tn = alloc('head_norm', [S, C]); // (S, C)
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      d.push(mm('head.dense', k.head!, pooledRow, head.dense, t));
      d.push(ln('head.norm', t, head.norm, tn));
      d.push(mm('classifier', k.matmulBias!, tn, head.classifier, logits));
    }
    return p.finish({ lastHiddenState: last, pooled, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

/**
 * Every pipeline a ModernBERT forward uses, compiled once: only the bias variants the config's
 * norm_bias / attention_bias / mlp_bias / classifier_bias call for, the head's only with a head.
 */
function createKernels(arena: WeightArena, config: ModernBertConfig, head: HeadKind) {
  const { device, dtype: weightDtype, options } = arena;
  const arithmetic = modelArithmetic(device, options);
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic };
  const glu = config.hiddenActivation;
  const withHead = head !== 'none';
  return arena.kernels({
    embedding: EmbeddingKernel.create(device, config.hiddenSize),
    layerNorm: LayerNormKernel.create(device, { bias: config.normBias }),
    attnMatmul: MatmulKernel.create(device, { ...m, bias: config.attentionBias }), // Wqkv
    attnResidual: MatmulKernel.create(device, { ...m, bias: config.attentionBias, residual: true }), // attn.Wo
    glu: MatmulKernel.create(device, { ...m, glu, bias: config.mlpBias }), // mlp.Wi
    mlpResidual: MatmulKernel.create(device, { ...m, bias: config.mlpBias, residual: true }), // mlp.Wo
    head: withHead ? MatmulKernel.create(device, { ...m, activation: config.classifierActivation, bias: config.classifierBias }) : null, // head.dense
    matmulBias: withHead ? MatmulKernel.create(device, { ...m, bias: true }) : null, // decoder, classifier
    ...rotaryAttentionKernels(device, config.numHeads, config.headDim, arithmetic),
  });
}

export const modernbert: Architecture<ModernBertConfig, ModernBertWeights> = {
  name: 'ModernBERT',
  modelTypes: ['modernbert'],
  parseConfig: parseModernBertConfig,
  loadWeights: loadModernBertWeights,
  createModel: (device, config, weights, options) => ModernBertModel.create(device, config, weights, options),
  layerMatmuls: ({ hiddenSize: C, intermediateSize: I }) => [
    { name: 'wqkv', N: 3 * C, K: C },
    { name: 'wo', N: C, K: C },
    { name: 'wi', N: 2 * I, K: C }, // GeGLU: Wi gives input and gate
    { name: 'mlp_wo', N: C, K: I },
  ],
};
