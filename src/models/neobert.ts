// NeoBERT (chandar-lab/NeoBERT): pre-RMSNorm encoder with RoPE (adjacent channel pairs), fused
// per-head qkv, SwiGLU FFN and no biases (docs/neobert-spec.md). This file is the whole
// architecture: its config fields, the checkpoint tensors it reads, and its forward plan.
import { ConfigReader } from '../config';
import {
  AttentionKernel,
  EmbeddingKernel,
  L2NormKernel,
  MatmulKernel,
  PoolingKernel,
  RMSNormKernel,
  RopeQkvKernel,
  type GPUTensor,
} from '../kernels';
import { foldNormGain, interleaveGateUp } from '../weight-layout';
import { drainUploads } from '../gpu';
import { ropeTable } from '../tables';
import { embeddingDispatches, linearDispatches, logitRowsInput, maxTokensForWidth, modelArithmetic, pooledOutputs, PlanBuilder, WeightArena, type EmbeddingTable, type RowChunkedLinear } from './common';
import { checkNoExtraLayer, checkTable, detectHead, detectPrefix, lazySection, specsOf, tensorSpec as spec, totalLength, type TensorLookup } from '../tensor-table';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

export interface NeoBERTConfig extends EncoderConfig {
  /** As written in config.json; NOT the FFN width (see ffnWidth). */
  intermediateSize: number;
  /** Width of the SwiGLU hidden layer actually stored in w12/w3. */
  ffnWidth: number;
  normEps: number;
  ropeTheta: number;
}

/** Hard-coded in the reference implementation; config.json has no field for it. */
export const NEOBERT_ROPE_THETA = 10000;

export const SEQUENCE_CLASSIFICATION_ARCHITECTURE = 'NeoBERTForSequenceClassification';

/** config.json of the released chandar-lab/NeoBERT checkpoint (the fields this engine reads). */
export const NEOBERT_BASE_CONFIG_JSON = Object.freeze({
  architectures: ['NeoBERTLMHead'],
  model_type: 'neobert',
  hidden_size: 768,
  num_hidden_layers: 28,
  num_attention_heads: 12,
  dim_head: 64,
  intermediate_size: 3072,
  vocab_size: 30522,
  max_length: 4096,
  norm_eps: 1e-5,
  pad_token_id: 0,
  torch_dtype: 'float32',
});

/** SwiGLU width as the reference code computes it: 8 * ceil(int(2 * intermediate_size / 3) / 8). */
export function ffnWidthFor(intermediateSize: number): number {
  return 8 * Math.ceil(Math.floor((2 * intermediateSize) / 3) / 8);
}

export function parseNeoBERTConfig(json: unknown, where: string): NeoBERTConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'];
  if (modelType !== undefined && modelType !== 'neobert') r.fail(`model_type is ${JSON.stringify(modelType)}, expected "neobert"`);
  const hiddenSize = r.integer('hidden_size', 1);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const intermediateSize = r.integer('intermediate_size', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const maxLength = r.integer('max_length', 1);
  const normEps = r.positive('norm_eps');
  if (hiddenSize % numHeads !== 0) r.fail(`hidden_size=${hiddenSize} is not divisible by num_attention_heads=${numHeads}`);
  const headDim = hiddenSize / numHeads;
  if (r.fields['dim_head'] !== undefined && r.fields['dim_head'] !== headDim) {
    r.fail(`dim_head=${JSON.stringify(r.fields['dim_head'])} does not match hidden_size/num_attention_heads=${headDim}`);
  }
  if (headDim % 2 !== 0) r.fail(`head dim ${headDim} (hidden_size/num_attention_heads) is odd; RoPE rotates channel pairs`);
  r.headDim(hiddenSize, numHeads);
  const ffnWidth = ffnWidthFor(intermediateSize);
  if (ffnWidth < 1) r.fail(`intermediate_size=${intermediateSize} gives an FFN width of 0`);
  // Used only to pad batches; the bert-base-uncased [PAD] id when absent.
  const padTokenId = r.padTokenId(vocabSize, 0);
  const architectures = r.architectures();
  return {
    modelType: 'neobert',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength,
    padTokenId,
    typeVocabSize: 0,
    ...r.labels(architectures.includes(SEQUENCE_CLASSIFICATION_ARCHITECTURE)),
    intermediateSize,
    ffnWidth,
    normEps,
    ropeTheta: NEOBERT_ROPE_THETA,
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

/** Linear weights are row-major [out, in] as stored: y = x @ W^T. */
export interface LayerWeights {
  attentionNorm: Float32Array; // [C]
  qkv: Float32Array; // [3C, C], per-head interleaved q|k|v
  wo: Float32Array; // [C, C]
  ffnNorm: Float32Array; // [C]
  w12: Float32Array; // [2F, C], rows [0,F) gate, [F,2F) up
  w3: Float32Array; // [C, F]
}

export type HeadWeights =
  | { kind: 'none' }
  | { kind: 'mlm'; weight: Float32Array /* [V, C] */; bias: Float32Array /* [V] */ }
  | {
      kind: 'classification';
      denseWeight: Float32Array; // [C, C]
      denseBias: Float32Array; // [C]
      weight: Float32Array; // [labels, C]
      bias: Float32Array; // [labels]
    };

export interface NeoBERTWeights {
  embedding: Float32Array; // [V, C]
  layers: LayerWeights[];
  finalNorm: Float32Array; // [C]
  head: HeadWeights;
}

/**
 * Every tensor NeoBERT reads, by role. Encoder and layer names take the layout prefix ("model." in
 * NeoBERTLMHead / NeoBERTForSequenceClassification exports, "" in encoder-only NeoBERT exports);
 * head names are always top-level.
 */
function tensorTable(config: NeoBERTConfig, prefix: string, head: 'none' | 'mlm' | 'classification') {
  const { hiddenSize: C, ffnWidth: F, vocabSize: V, numLabels } = config;
  const hidden = `hidden_size=${C}`;
  const ffn = `intermediate_size=${config.intermediateSize} (FFN width ${F})`;
  const vocab = `vocab_size=${V}`;
  const layerHint = ` (config.json num_hidden_layers=${config.numLayers})`;
  const layers = Array.from({ length: config.numLayers }, (_, i) => {
    const p = `${prefix}transformer_encoder.${i}.`;
    return {
      attentionNorm: spec(`${p}attention_norm.weight`, [C], [hidden], layerHint),
      qkv: spec(`${p}qkv.weight`, [3 * C, C], [hidden], layerHint),
      wo: spec(`${p}wo.weight`, [C, C], [hidden], layerHint),
      ffnNorm: spec(`${p}ffn_norm.weight`, [C], [hidden], layerHint),
      w12: spec(`${p}ffn.w12.weight`, [2 * F, C], [ffn, hidden], layerHint),
      w3: spec(`${p}ffn.w3.weight`, [C, F], [hidden, ffn], layerHint),
    };
  });
  const encoder = {
    embedding: spec(`${prefix}encoder.weight`, [V, C], [vocab, hidden]),
    finalNorm: spec(`${prefix}layer_norm.weight`, [C], [hidden]),
  };
  const labels = `num_labels=${numLabels}`;
  const heads = {
    none: {},
    mlm: { weight: spec('decoder.weight', [V, C], [vocab, hidden]), bias: spec('decoder.bias', [V], [vocab]) },
    classification: {
      denseWeight: spec('dense.weight', [C, C], [hidden]),
      denseBias: spec('dense.bias', [C], [hidden]),
      weight: spec('classifier.weight', [numLabels ?? 0, C], [labels, hidden]),
      bias: spec('classifier.bias', [numLabels ?? 0], [labels]),
    },
  };
  return { encoder, layers, head: heads[head] };
}

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadNeoBERTWeights(config: NeoBERTConfig, lookup: TensorLookup) {
  const prefix = detectPrefix(lookup, ['model.', ''], 'encoder.weight', 'NeoBERT');
  checkNoExtraLayer(lookup, (i) => `${prefix}transformer_encoder.${i}.qkv.weight`, config.numLayers);
  const kind = detectHead(config, lookup, { mlm: [['decoder.weight']], classifier: ['classifier.weight'], expectedArchitecture: SEQUENCE_CLASSIFICATION_ARCHITECTURE });
  const table = tensorTable(config, prefix, kind);
  const summary = checkTable(lookup, specsOf(table));
  const encoder = lazySection(lookup, table.encoder);
  const head = Object.defineProperties({ kind }, Object.getOwnPropertyDescriptors(lazySection(lookup, table.head))) as HeadWeights;
  const weights: NeoBERTWeights = { embedding: encoder.embedding, layers: table.layers.map((l) => lazySection(lookup, l)), finalNorm: encoder.finalNorm, head };
  return { weights, ...summary };
}

export function neobertParameterCount(weights: NeoBERTWeights): number {
  const { kind: _, ...head } = weights.head as HeadWeights & Record<string, Float32Array>;
  return totalLength([weights.embedding, weights.finalNorm, ...weights.layers.flatMap((l) => Object.values(l)), ...Object.values(head)]);
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

// The two RMSNorms inside a layer run as the prologue of the matmul after them (NORM_ROWS in
// kernels/matmul*.wgsl): their gains are folded into that matmul's weight columns at upload.
interface LayerTensors {
  qkvNormed: GPUTensor; // (3C, C) per-head interleaved rows, columns scaled by attention_norm
  wo: GPUTensor; // (C, C)
  w12Normed: GPUTensor; // (2F, C) rows gate 0, up 0, gate 1, ..., columns scaled by ffn_norm
  w3: GPUTensor; // (C, F)
}

type HeadTensors =
  | { kind: 'none' }
  | { kind: 'mlm'; decoder: RowChunkedLinear /* (V, C) + (V), in row chunks */ }
  | { kind: 'classification'; denseWeight: GPUTensor; denseBias: GPUTensor; weight: GPUTensor; bias: GPUTensor };

/** Every pipeline a NeoBERT forward with this head uses, compiled once (only the variants it needs). */
function createKernels(arena: WeightArena, config: NeoBERTConfig, head: HeadKind) {
  const { device, dtype: weightDtype, options } = arena;
  const { hiddenSize: C, numHeads: H, headDim: D } = config;
  const arithmetic = modelArithmetic(device, options);
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic };
  return arena.kernels({
    embedding: EmbeddingKernel.create(device, C),
    matmulNorm: MatmulKernel.create(device, { ...m, normRows: true }), // rmsnorm prologue
    matmulNormSwiglu: MatmulKernel.create(device, { ...m, normRows: true, swiglu: true }), // rmsnorm prologue + SwiGLU epilogue
    matmulResidual: MatmulKernel.create(device, { ...m, residual: true }),
    matmulBias: head !== 'none' ? MatmulKernel.create(device, { ...m, bias: true }) : null,
    matmulBiasTanh: head === 'classification' ? MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }) : null,
    rmsnorm: RMSNormKernel.create(device),
    ropeQkv: RopeQkvKernel.create(device, H, D, { outputDtype: arithmetic }),
    attention: AttentionKernel.create(device, H, D, { arithmetic }),
    pooling: PoolingKernel.create(device),
    l2norm: L2NormKernel.create(device),
  });
}

export class NeoBERTModel implements EncoderModel {
  readonly hasPooler = false;
  readonly positionOffset = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly config: NeoBERTConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly kernels: Awaited<ReturnType<typeof createKernels>>,
    private readonly embedding: EmbeddingTable, // (V, C) in row chunks
    private readonly layers: LayerTensors[],
    private readonly finalNorm: GPUTensor,
    private readonly head: HeadTensors,
    private readonly rope: GPUTensor,
    readonly dtype: ModelDtype = 'f32',
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.bias.shape[0] : 0;
  }

  /** Uploads weights (matmul weights as options.dtype, the rest f32) and compiles every pipeline, so the first forward compiles nothing. */
  static async create(device: GPUDevice, config: NeoBERTConfig, weights: NeoBERTWeights, options: ModelOptions = {}): Promise<NeoBERTModel> {
    const { hiddenSize: C, headDim: D, ffnWidth: F, vocabSize: V, maxLength } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, weights.head.kind);
    const layers: LayerTensors[] = [];
    for (const [i, w] of weights.layers.entries()) {
      layers.push({
        qkvNormed: arena.weight(`layer${i}.qkv*attention_norm`, foldNormGain(w.qkv, w.attentionNorm), [3 * C, C]),
        wo: arena.weight(`layer${i}.wo`, w.wo, [C, C]),
        w12Normed: arena.weight(`layer${i}.w12*ffn_norm`, foldNormGain(interleaveGateUp(w.w12, C), w.ffnNorm), [2 * F, C]),
        w3: arena.weight(`layer${i}.w3`, w.w3, [C, F]),
      });
      await drainUploads(device); // one layer's staging copies at a time
    }
    let head: HeadTensors = { kind: 'none' };
    if (weights.head.kind === 'mlm') {
      head = { kind: 'mlm', decoder: arena.rowChunkedLinear('decoder.weight', weights.head.weight, weights.head.bias, V, C) };
    } else if (weights.head.kind === 'classification') {
      const labels = weights.head.bias.length;
      head = {
        kind: 'classification',
        denseWeight: arena.weight('dense.weight', weights.head.denseWeight, [C, C]),
        denseBias: arena.tensor('dense.bias', weights.head.denseBias, [C]),
        weight: arena.weight('classifier.weight', weights.head.weight, [labels, C]),
        bias: arena.tensor('classifier.bias', weights.head.bias, [labels]),
      };
    }
    return new NeoBERTModel(
      device,
      config,
      arena,
      kernels,
      arena.embeddingTable('encoder.weight', weights.embedding, V, C),
      layers,
      arena.tensor('layer_norm.weight', weights.finalNorm, [C]),
      head,
      arena.tensor('rope', ropeTable(maxLength, D, config.ropeTheta), [maxLength, D / 2, 2]),
      dtype,
    );
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, ffnWidth: F, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, 2 * F, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * The forward pass as an ordered list of dispatches, for N tokens in S sequences. Shapes:
   * C hidden, H heads of D, F FFN width, V vocabulary; sequences are token ranges of the N.
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, ffnWidth: F, normEps: eps } = this.config;
    const k = this.kernels;
    const N = tokens;
    const S = sequences;
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: false });
    const { alloc, dispatches: d } = p;
    const { inputIds, attentionMask, positions, attentionTiles, sequenceTable } = p.inputs;
    const xA = alloc('residual_a', [N, C]); // (N, C) residual stream, ping
    const xB = alloc('residual_b', [N, C]); // (N, C) residual stream, pong
    const qkv = alloc('qkv', [N, 3 * C]); // (N, H*3*D) per-head interleaved
    const q = alloc('q', [H, N, D]); // (H, N, D) after RoPE
    const kk = alloc('k', [H, N, D]); // (H, N, D) after RoPE
    const v = alloc('v', [H, N, D]); // (H, N, D)
    const attn = alloc('attention_out', [N, C]); // (N, H*D) heads concatenated
    const swi = alloc('swiglu_out', [N, F]); // (N, F) silu(gate) * up
    const last = alloc('last_hidden_state', [N, C]); // (N, C)

    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, this.embedding, xA)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      d.push(k.matmulNorm.createDispatch(`${L}.qkv`, xA, w.qkvNormed, qkv, { eps })); // (N, 3C) = rmsnorm(xA) qkv^T
      d.push(k.ropeQkv.createDispatch(`${L}.rope`, qkv, this.rope, positions, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, attentionMask, attentionTiles, attn)); // (N, C)
      d.push(k.matmulResidual.createDispatch(`${L}.wo`, attn, w.wo, xB, { residual: xA })); // (N, C) xB = xA + o wo^T
      d.push(k.matmulNormSwiglu.createDispatch(`${L}.w12`, xB, w.w12Normed, swi, { eps })); // (N, F) = swiglu(rmsnorm(xB) w12^T)
      d.push(k.matmulResidual.createDispatch(`${L}.w3`, swi, w.w3, xA, { residual: xB })); // (N, C) xA = xB + s w3^T
    });
    d.push(k.rmsnorm.createDispatch('final_norm', xA, this.finalNorm, last, eps)); // (N, C)
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4

    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    if (options.logits && this.head.kind === 'mlm') {
      const head = logitRowsInput(alloc, d, k.embedding, last, options.logitRows); // (N or R, C)
      logitRows = head.rows;
      logits = alloc('logits', [head.input.shape[0], this.config.vocabSize]); // (N or R, V)
      d.push(...linearDispatches(k.matmulBias!, 'mlm_head', head.input, this.head.decoder, logits)); // (N or R, V)
    } else if (options.logits && this.head.kind === 'classification') {
      const dense = alloc('classifier_dense', [S, C]); // (S, C)
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      d.push(k.matmulBiasTanh!.createDispatch('classifier_dense', pooled.pooledCls, this.head.denseWeight, dense, { bias: this.head.denseBias }));
      d.push(k.matmulBias!.createDispatch('classifier', dense, this.head.weight, logits, { bias: this.head.bias }));
    }
    return p.finish({ lastHiddenState: last, pooled, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

export const neobert: Architecture<NeoBERTConfig, NeoBERTWeights> = {
  name: 'NeoBERT',
  modelTypes: ['neobert'],
  parseConfig: parseNeoBERTConfig,
  loadWeights: loadNeoBERTWeights,
  createModel: (device, config, weights, options) => NeoBERTModel.create(device, config, weights, options),
  layerMatmuls: ({ hiddenSize: C, ffnWidth: F }) => [
    { name: 'qkv', N: 3 * C, K: C },
    { name: 'wo', N: C, K: C },
    { name: 'w12', N: 2 * F, K: C },
    { name: 'w3', N: C, K: F },
  ],
};
