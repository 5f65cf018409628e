// NeoBERT on the GPU: weights uploaded once, kernels compiled once, and an explicit forward
// (planForward) that lists every dispatch of a batch shape with the shape of each buffer.
// Execution (one encoder, one submit, readback) lives in runner.ts.
import type { NeoBERTConfig } from './config';
import type { NeoBERTWeights } from './weights';
import { InputError } from './errors';
import { checkBufferSize, createBufferFrom, createStorageBuffer } from './gpu';
import { encodeF16 } from './dtype';
import {
  AttentionKernel,
  EmbeddingKernel,
  L2NormKernel,
  MatmulKernel,
  PoolingKernel,
  RMSNormKernel,
  RopeQkvKernel,
  elementCount,
  foldNormGain,
  interleaveGateUp,
  type Dispatch,
  type GPUTensor,
  type MatmulStrategy,
} from './kernels';
import { ropeTable } from './reference';

export { InputError };

/** Storage of the matmul weights (qkv, wo, w12, w3, head); everything else stays f32. */
export type ModelDtype = 'f32' | 'f16';

export interface ModelOptions {
  /**
   * 'f16': matmul weights uploaded as IEEE halves (half the memory), f32 arithmetic. Needs no
   * optional feature: the kernels unpack halves with core WGSL's unpack2x16float. Default 'f32'.
   */
  dtype?: ModelDtype;
  /** Matmul kernel; default matmulStrategy(device): 'subgroup' on CPU adapters, 'tiled' on GPUs. */
  matmulStrategy?: MatmulStrategy;
}

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
  | { kind: 'mlm'; weight: GPUTensor /* (V, C) */; bias: GPUTensor /* (V) */ }
  | { kind: 'classification'; denseWeight: GPUTensor; denseBias: GPUTensor; weight: GPUTensor; bias: GPUTensor };

interface Kernels {
  embedding: EmbeddingKernel;
  rmsnorm: RMSNormKernel;
  matmulNorm: MatmulKernel; // rmsnorm prologue
  matmulNormSwiglu: MatmulKernel; // rmsnorm prologue + SwiGLU epilogue
  matmulResidual: MatmulKernel;
  matmulBias: MatmulKernel;
  matmulBiasTanh: MatmulKernel;
  ropeQkv: RopeQkvKernel;
  attention: AttentionKernel;
  pooling: PoolingKernel;
  l2norm: L2NormKernel;
}

/** What a forward computes beyond last_hidden_state and pooling. */
export interface PlanOptions {
  logits: boolean;
}

/**
 * Every buffer and dispatch for up to `tokens` tokens in up to `sequences` sequences, built once
 * and reused. Sequences are contiguous token ranges: the rows of a padded batch, or packed
 * sequences with no padding; the host fills the tables per call (see Runner).
 */
export interface ForwardPlan {
  tokens: number;
  sequences: number;
  options: PlanOptions;
  inputIds: GPUTensor; // (N) u32
  attentionMask: GPUTensor; // (N) u32, 1 = token, 0 = padding
  positions: GPUTensor; // (N) u32, position of each token in its sequence
  attentionTiles: GPUTensor; // (maxTiles, 4) u32, see AttentionKernel.tileTable
  sequenceTable: GPUTensor; // (S, 4) u32, see PoolingKernel.sequenceTable
  outputs: {
    lastHiddenState: GPUTensor; // (N, C)
    pooledCls: GPUTensor; // (S, C)
    pooledMean: GPUTensor; // (S, C)
    pooledClsNormalized: GPUTensor; // (S, C)
    pooledMeanNormalized: GPUTensor; // (S, C)
    logits: GPUTensor | null; // (N, V) MLM or (S, labels) classification
  };
  dispatches: Dispatch[];
  /** Every intermediate by label, for layer-by-layer debugging against the reference. */
  tensors: Map<string, GPUTensor>;
  destroy(): void;
}

function uploadTensor(device: GPUDevice, label: string, data: Float32Array, shape: number[]): GPUTensor {
  return { label, shape, buffer: createBufferFrom(device, label, data) };
}

export class NeoBERTModel {
  private constructor(
    readonly device: GPUDevice,
    readonly config: NeoBERTConfig,
    private readonly kernels: Kernels,
    private readonly embedding: GPUTensor,
    private readonly layers: LayerTensors[],
    private readonly finalNorm: GPUTensor,
    private readonly head: HeadTensors,
    private readonly rope: GPUTensor,
    readonly dtype: ModelDtype = 'f32',
  ) {}

  get headKind(): HeadTensors['kind'] {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' ? this.head.bias.shape[0] : 0;
  }

  /** Uploads weights (matmul weights as options.dtype, the rest f32) and compiles every pipeline, so the first forward compiles nothing. */
  static async create(device: GPUDevice, config: NeoBERTConfig, weights: NeoBERTWeights, options: ModelOptions = {}): Promise<NeoBERTModel> {
    const { hiddenSize: C, numHeads: H, headDim: D, ffnWidth: F, vocabSize: V, maxLength } = config;
    const dtype = options.dtype ?? 'f32';
    const weightDtype = dtype; // of the matmul kernels
    const strategy = options.matmulStrategy;
    const [embedding, matmulNorm, matmulNormSwiglu, matmulResidual, matmulBias, matmulBiasTanh, rmsnorm, ropeQkv, attention, pooling, l2norm] =
      await Promise.all([
        EmbeddingKernel.create(device, C),
        MatmulKernel.create(device, { weightDtype, strategy, normRows: true }),
        MatmulKernel.create(device, { weightDtype, strategy, normRows: true, swiglu: true }),
        MatmulKernel.create(device, { weightDtype, strategy, residual: true }),
        MatmulKernel.create(device, { weightDtype, strategy, bias: true }),
        MatmulKernel.create(device, { weightDtype, strategy, bias: true, activation: 'tanh' }),
        RMSNormKernel.create(device),
        RopeQkvKernel.create(device, H, D),
        AttentionKernel.create(device, H, D),
        PoolingKernel.create(device),
        L2NormKernel.create(device),
      ]);
    const kernels = { embedding, matmulNorm, matmulNormSwiglu, matmulResidual, matmulBias, matmulBiasTanh, rmsnorm, ropeQkv, attention, pooling, l2norm };

    const up = (label: string, data: Float32Array, shape: number[]) => uploadTensor(device, label, data, shape);
    // Matmul weights: f32, or f16 halves (shape stays logical, the buffer holds 2 bytes each).
    const upW = (label: string, data: Float32Array, shape: number[]): GPUTensor =>
      dtype === 'f16' ? { label, shape, buffer: createBufferFrom(device, label, encodeF16(data)) } : up(label, data, shape);
    const layers = weights.layers.map((w, i) => ({
      qkvNormed: upW(`layer${i}.qkv*attention_norm`, foldNormGain(w.qkv, w.attentionNorm), [3 * C, C]),
      wo: upW(`layer${i}.wo`, w.wo, [C, C]),
      w12Normed: upW(`layer${i}.w12*ffn_norm`, foldNormGain(interleaveGateUp(w.w12, C), w.ffnNorm), [2 * F, C]),
      w3: upW(`layer${i}.w3`, w.w3, [C, F]),
    }));
    let head: HeadTensors = { kind: 'none' };
    if (weights.head.kind === 'mlm') {
      head = { kind: 'mlm', weight: upW('decoder.weight', weights.head.weight, [V, C]), bias: up('decoder.bias', weights.head.bias, [V]) };
    } else if (weights.head.kind === 'classification') {
      const labels = weights.head.bias.length;
      head = {
        kind: 'classification',
        denseWeight: upW('dense.weight', weights.head.denseWeight, [C, C]),
        denseBias: up('dense.bias', weights.head.denseBias, [C]),
        weight: upW('classifier.weight', weights.head.weight, [labels, C]),
        bias: up('classifier.bias', weights.head.bias, [labels]),
      };
    }
    return new NeoBERTModel(
      device,
      config,
      kernels,
      up('encoder.weight', weights.embedding, [V, C]),
      layers,
      up('layer_norm.weight', weights.finalNorm, [C]),
      head,
      up('rope', ropeTable(maxLength, D, config.ropeTheta), [maxLength, D / 2, 2]),
      dtype,
    );
  }

  /** Largest number of tokens one forward can hold within the device's binding limit. */
  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, ffnWidth: F, vocabSize: V } = this.config;
    let widest = Math.max(3 * C, 2 * F);
    if (options.logits && this.head.kind === 'mlm') widest = Math.max(widest, V);
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    return Math.floor(limit / (widest * 4));
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
    const tensors = new Map<string, GPUTensor>();
    const alloc = (label: string, shape: number[]): GPUTensor => {
      checkBufferSize(this.device, `${label} [${shape}]`, elementCount(shape) * 4);
      const t = { label, shape, buffer: createStorageBuffer(this.device, label, elementCount(shape) * 4) };
      tensors.set(label, t);
      return t;
    };
    const inputIds = alloc('input_ids', [N]); // (N) u32
    const attentionMask = alloc('attention_mask', [N]); // (N) u32
    const positions = alloc('positions', [N]); // (N) u32
    const attentionTiles = alloc('attention_tiles', [AttentionKernel.maxTiles(N, S), 4]); // (tiles, 4) u32
    const sequenceTable = alloc('sequence_table', [S, 4]); // (S, 4) u32
    const xA = alloc('residual_a', [N, C]); // (N, C) residual stream, ping
    const xB = alloc('residual_b', [N, C]); // (N, C) residual stream, pong
    const qkv = alloc('qkv', [N, 3 * C]); // (N, H*3*D) per-head interleaved
    const q = alloc('q', [H, N, D]); // (H, N, D) after RoPE
    const kk = alloc('k', [H, N, D]); // (H, N, D) after RoPE
    const v = alloc('v', [H, N, D]); // (H, N, D)
    const attn = alloc('attention_out', [N, C]); // (N, H*D) heads concatenated
    const swi = alloc('swiglu_out', [N, F]); // (N, F) silu(gate) * up
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const cls = alloc('pooled_cls', [S, C]); // (S, C)
    const mean = alloc('pooled_mean', [S, C]); // (S, C)
    const clsNorm = alloc('pooled_cls_normalized', [S, C]); // (S, C)
    const meanNorm = alloc('pooled_mean_normalized', [S, C]); // (S, C)

    const d: Dispatch[] = [];
    d.push(k.embedding.bind('embedding', inputIds, this.embedding, xA)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      d.push(k.matmulNorm.bind(`${L}.qkv`, xA, w.qkvNormed, qkv, { eps })); // (N, 3C) = rmsnorm(xA) qkv^T
      d.push(k.ropeQkv.bind(`${L}.rope`, qkv, this.rope, positions, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.bind(`${L}.attention`, q, kk, v, attentionMask, attentionTiles, attn)); // (N, C)
      d.push(k.matmulResidual.bind(`${L}.wo`, attn, w.wo, xB, { residual: xA })); // (N, C) xB = xA + o wo^T
      d.push(k.matmulNormSwiglu.bind(`${L}.w12`, xB, w.w12Normed, swi, { eps })); // (N, F) = swiglu(rmsnorm(xB) w12^T)
      d.push(k.matmulResidual.bind(`${L}.w3`, swi, w.w3, xA, { residual: xB })); // (N, C) xA = xB + s w3^T
    });
    d.push(k.rmsnorm.bind('final_norm', xA, this.finalNorm, last, eps)); // (N, C)
    d.push(k.pooling.bind('pooling', last, attentionMask, sequenceTable, cls, mean)); // (S, C) x2
    d.push(k.l2norm.bind('normalize_cls', cls, clsNorm)); // (S, C)
    d.push(k.l2norm.bind('normalize_mean', mean, meanNorm)); // (S, C)

    let logits: GPUTensor | null = null;
    if (options.logits && this.head.kind === 'mlm') {
      logits = alloc('logits', [N, this.config.vocabSize]); // (N, V)
      d.push(k.matmulBias.bind('mlm_head', last, this.head.weight, logits, { bias: this.head.bias }));
    } else if (options.logits && this.head.kind === 'classification') {
      const dense = alloc('classifier_dense', [S, C]); // (S, C)
      logits = alloc('logits', [S, this.numLabels]); // (S, labels)
      d.push(k.matmulBiasTanh.bind('classifier_dense', cls, this.head.denseWeight, dense, { bias: this.head.denseBias }));
      d.push(k.matmulBias.bind('classifier', dense, this.head.weight, logits, { bias: this.head.bias }));
    }

    return {
      tokens: N,
      sequences: S,
      options,
      inputIds,
      attentionMask,
      positions,
      attentionTiles,
      sequenceTable,
      outputs: {
        lastHiddenState: last,
        pooledCls: cls,
        pooledMean: mean,
        pooledClsNormalized: clsNorm,
        pooledMeanNormalized: meanNorm,
        logits,
      },
      dispatches: d,
      tensors,
      destroy() {
        for (const t of tensors.values()) t.buffer.destroy();
      },
    };
  }

  /** Checks a batch on the host so bad ids or masks fail here, not as silent garbage on the GPU. */
  validateInputs(inputIds: ArrayLike<number>, attentionMask: ArrayLike<number>, batch: number, seqLen: number): void {
    const { vocabSize, maxLength } = this.config;
    if (!Number.isInteger(batch) || batch < 1) throw new InputError(`empty batch: expected at least one sequence, got batch size ${batch}`);
    if (!Number.isInteger(seqLen) || seqLen < 1) throw new InputError(`sequence length must be at least 1, got ${seqLen}`);
    if (seqLen > maxLength) {
      throw new InputError(`sequence length ${seqLen} is over the model's limit of ${maxLength} tokens (config max_length)`);
    }
    const n = batch * seqLen;
    if (inputIds.length !== n) throw new InputError(`input_ids has ${inputIds.length} values, expected ${batch} x ${seqLen} = ${n}`);
    if (attentionMask.length !== n) {
      throw new InputError(`attention_mask has ${attentionMask.length} values, expected ${batch} x ${seqLen} = ${n}`);
    }
    for (let i = 0; i < n; i++) {
      const id = inputIds[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new InputError(
          `input_ids[${Math.floor(i / seqLen)}][${i % seqLen}] = ${id} is out of the vocabulary range [0, ${vocabSize})`,
        );
      }
      const m = attentionMask[i];
      if (m !== 0 && m !== 1) throw new InputError(`attention_mask[${Math.floor(i / seqLen)}][${i % seqLen}] = ${m}, expected 0 or 1`);
    }
    for (let b = 0; b < batch; b++) {
      let any = false;
      for (let t = 0; t < seqLen && !any; t++) any = attentionMask[b * seqLen + t] === 1;
      if (!any) throw new InputError(`sequence ${b} has no tokens: its attention_mask is all zeros`);
    }
  }

  destroy(): void {
    const all: GPUTensor[] = [this.embedding, this.finalNorm, this.rope];
    for (const l of this.layers) all.push(l.qkvNormed, l.wo, l.w12Normed, l.w3);
    if (this.head.kind === 'mlm') all.push(this.head.weight, this.head.bias);
    if (this.head.kind === 'classification') all.push(this.head.denseWeight, this.head.denseBias, this.head.weight, this.head.bias);
    for (const t of all) t.buffer.destroy();
  }
}
