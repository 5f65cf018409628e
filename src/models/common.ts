// The skeleton every architecture's model file (src/models/<arch>.ts) is written on:
//   WeightArena   uploads weights (f32, or f16 halves for matmuls) and compiles kernels, and
//                 frees all of them in destroy(): a model's destroy() is arena.destroy();
//   PlanBuilder   a forward plan's buffers by label, its standard inputs (ids, token types, mask,
//                 positions, attention tiles, sequence table), per-call host inputs (hostInput:
//                 tables the runner fills from the batch layout) and the ForwardPlan it returns;
//   maxTokensForWidth   the token limit from the widest per-token activation;
// plus the shared pieces of a forward: embedding chunks, row-chunked decoders, pooled outputs.
import { encodeF16 } from '../dtype';
import { checkBufferSize, createBufferFrom, createStorageBuffer } from '../gpu';
import { AttentionKernel, elementCount, type Dispatch, type EmbeddingExtras, type EmbeddingKernel, type GPUTensor, type L2NormKernel, type MatmulKernel, type PoolingKernel } from '../kernels';
import type { BatchLayout, ForwardPlan, HostInput, ModelDtype, ModelOptions, PlanOptions } from './types';

// The arithmetic default is device policy (src/capabilities.ts); re-exported for the model files.
export { modelArithmetic } from '../capabilities';

/** An f32 (or u32) tensor uploaded once. */
export function uploadTensor(device: GPUDevice, label: string, data: Float32Array | Uint32Array, shape: number[]): GPUTensor {
  return { label, shape, buffer: createBufferFrom(device, label, data) };
}

/** A matmul weight: f32, or f16 halves (the shape stays logical, the buffer holds 2 bytes each). */
export function uploadWeight(device: GPUDevice, dtype: ModelDtype, label: string, data: Float32Array, shape: number[]): GPUTensor {
  return dtype === 'f16' ? { label, shape, buffer: createBufferFrom(device, label, encodeF16(data)) } : uploadTensor(device, label, data, shape);
}

/** Anything a model owns on the GPU and frees: a buffer, or a kernel (its pipelines' placeholders). */
interface Destroyable {
  destroy(): void;
}

/**
 * Everything a model uploads or compiles, freed together by destroy(): weights go up through it
 * (tensor / weight / embeddingTable / rowChunkedLinear) and kernels are compiled through it
 * (kernels), so no model lists its tensors by hand.
 */
export class WeightArena {
  private owned: Destroyable[] = [];

  constructor(
    readonly device: GPUDevice,
    /** Storage of the matmul weights. */
    readonly dtype: ModelDtype,
    readonly options: ModelOptions = {},
  ) {}

  /** An f32 (or u32) tensor: norms, biases, embedding tables, RoPE tables. */
  tensor(label: string, data: Float32Array | Uint32Array, shape: number[]): GPUTensor {
    return this.keep(uploadTensor(this.device, label, data, shape));
  }

  /** A matmul weight in the model's dtype. */
  weight(label: string, data: Float32Array, shape: number[]): GPUTensor {
    return this.keep(uploadWeight(this.device, this.dtype, label, data, shape));
  }

  /** A Linear's weight (model dtype) and optional bias (f32). */
  linear(label: string, weight: Float32Array, bias: Float32Array | null, shape: [number, number]): { weight: GPUTensor; bias: GPUTensor | null } {
    return { weight: this.weight(label, weight, shape), bias: bias && this.tensor(`${label}.bias`, bias, [shape[0]]) };
  }

  /** A [V, C] word-embedding table in row chunks within the binding limit (options.maxChunkRows). */
  embeddingTable(label: string, data: Float32Array, vocab: number, hidden: number): EmbeddingTable {
    const table = uploadEmbeddingTable(this.device, label, data, vocab, hidden, this.options.maxChunkRows);
    for (const c of table.chunks) this.keep(c.table);
    return table;
  }

  /** A vocabulary-sized decoder in row chunks (see uploadRowChunkedLinear). */
  rowChunkedLinear(label: string, weight: Float32Array, bias: Float32Array, rows: number, cols: number): RowChunkedLinear {
    const linear = uploadRowChunkedLinear(this.device, this.dtype, label, weight, bias, rows, cols, this.options.maxChunkRows);
    for (const c of linear.chunks) this.keep(c.weight), this.keep(c.bias);
    return linear;
  }

  /** Takes ownership of a tensor made elsewhere. */
  keep<T extends GPUTensor>(t: T): T {
    this.owned.push(t.buffer);
    return t;
  }

  /**
   * Compiles the kernels by role, concurrently; a null entry is a variant this checkpoint does not
   * need (write `cond ? Kernel.create(...) : null`), which stays null. The arena frees them.
   */
  async kernels<T extends Record<string, Promise<Destroyable> | null>>(specs: T): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
    const entries = await Promise.all(Object.entries(specs).map(async ([role, p]) => [role, p && (await p)] as const));
    for (const [, k] of entries) if (k) this.owned.push(k);
    return Object.fromEntries(entries) as { [K in keyof T]: Awaited<T[K]> };
  }

  /** Frees every buffer and kernel it holds. */
  destroy(): void {
    for (const o of this.owned) o.destroy();
    this.owned = [];
  }
}

/**
 * Most tokens one forward can hold when its widest per-token activation has `widest` f32 values
 * (3C for qkv, the FFN width, V for MLM logits): every (N, widest) buffer must fit one storage binding.
 */
export function maxTokensForWidth(device: GPUDevice, widest: number): number {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  return Math.floor(limit / (widest * 4));
}

/** The tables every plan has, which the runner writes per call (see ForwardPlan). */
export interface PlanInputs {
  inputIds: GPUTensor; // (N) u32
  tokenTypeIds: GPUTensor | null; // (N) u32, or null when the model takes none
  attentionMask: GPUTensor; // (N) u32
  positions: GPUTensor; // (N) u32
  attentionTiles: GPUTensor; // (tiles, 4) u32
  sequenceTable: GPUTensor; // (S, 4) u32
}

/**
 * One forward plan being built for N tokens in S sequences: `alloc` makes its f32/u32 buffers by
 * label (checked against the device's limits), `dispatches` collects its dispatches in order,
 * `inputs` are the standard per-call tables, `hostInput` declares an extra one, and `finish`
 * returns the ForwardPlan, whose destroy() frees every buffer and dispatch params buffer.
 */
export class PlanBuilder {
  readonly tensors = new Map<string, GPUTensor>();
  readonly dispatches: Dispatch[] = [];
  readonly hostInputs: HostInput[] = [];
  readonly inputs: PlanInputs;

  constructor(
    readonly device: GPUDevice,
    readonly tokens: number,
    readonly sequences: number,
    readonly options: PlanOptions,
    layout: { tokenTypes: boolean },
  ) {
    const N = tokens;
    this.inputs = {
      inputIds: this.alloc('input_ids', [N]),
      tokenTypeIds: layout.tokenTypes ? this.alloc('token_type_ids', [N]) : null,
      attentionMask: this.alloc('attention_mask', [N]),
      positions: this.alloc('positions', [N]),
      attentionTiles: this.alloc('attention_tiles', [AttentionKernel.maxTiles(N, sequences), 4]),
      sequenceTable: this.alloc('sequence_table', [sequences, 4]),
    };
  }

  /** A (shape) f32/u32 buffer of the plan, by label (every intermediate is readable by its label). */
  alloc = (label: string, shape: number[]): GPUTensor => {
    checkBufferSize(this.device, `${label} [${shape}]`, elementCount(shape) * 4);
    const t = { label, shape, buffer: createStorageBuffer(this.device, label, elementCount(shape) * 4) };
    this.tensors.set(label, t);
    return t;
  };

  /**
   * A per-call table beyond the standard inputs (see HostInput): the runner calls `fill` with
   * each forward's BatchLayout and writes what it returns (at most the buffer's elements, as u32
   * or f32) before the forward, e.g. a RoPE table whose base depends on the padded length, a
   * per-token adapter index from a per-sequence input, a relative-position table.
   */
  hostInput(label: string, shape: number[], fill: (layout: BatchLayout) => Uint32Array<ArrayBuffer> | Float32Array<ArrayBuffer>): GPUTensor {
    const tensor = this.alloc(label, shape);
    this.hostInputs.push({ tensor, fill });
    return tensor;
  }

  /** The finished plan: the standard inputs, the outputs, every dispatch and tensor. */
  finish(outputs: {
    lastHiddenState: GPUTensor;
    pooled: Pick<ForwardPlan['outputs'], 'pooledCls' | 'pooledMean' | 'pooledClsNormalized' | 'pooledMeanNormalized'>;
    poolerOutput?: GPUTensor | null;
    logits?: GPUTensor | null;
    logitRows?: GPUTensor | null;
  }): ForwardPlan {
    const { tensors, dispatches } = this;
    return {
      tokens: this.tokens,
      sequences: this.sequences,
      options: this.options,
      ...this.inputs,
      logitRows: outputs.logitRows ?? null,
      hostInputs: this.hostInputs,
      outputs: { lastHiddenState: outputs.lastHiddenState, ...outputs.pooled, poolerOutput: outputs.poolerOutput ?? null, logits: outputs.logits ?? null },
      dispatches,
      tensors,
      destroy: () => {
        for (const t of tensors.values()) t.buffer.destroy();
        for (const d of dispatches) d.destroy?.();
      },
    };
  }
}

/**
 * The rows an MLM head reads: with options.logitRows = R, a gather of R token rows of `hidden`
 * (their indices in the u32 [R] tensor `logit_rows`, which the runner fills) into (R, C), so
 * the head and its (R, V) logits cost R rows, not N; without it, `hidden` itself.
 * `gather` is an EmbeddingKernel without position or type tables (hidden as the table).
 */
export function logitRowsInput(
  alloc: (label: string, shape: number[]) => GPUTensor,
  dispatches: Dispatch[],
  gather: EmbeddingKernel,
  hidden: GPUTensor,
  logitRows: number | undefined,
): { rows: GPUTensor | null; input: GPUTensor } {
  if (!logitRows) return { rows: null, input: hidden };
  const rows = alloc('logit_rows', [logitRows]); // (R) u32 token rows
  const input = alloc('logit_rows_hidden', [logitRows, hidden.shape[1]]); // (R, C)
  dispatches.push(gather.createDispatch('gather_logit_rows', rows, hidden, input));
  return { rows, input };
}

/** A word-embedding table as row chunks, each within the device's storage-binding limit. */
export interface EmbeddingTable {
  /** (rows, C) chunks; chunk i holds vocabulary rows [first, first + rows). */
  chunks: { table: GPUTensor; first: number }[];
}

/**
 * Uploads a [V, C] f32 table in as few chunks as the device allows (one for most models;
 * XLM-R's 250002 x 768 f32 is 732 MiB, ModernBERT's 50368 x 768 is 148 MiB, over the 128 MiB
 * default binding limit). `maxChunkRows` forces smaller chunks (tests).
 */
export function uploadEmbeddingTable(device: GPUDevice, label: string, data: Float32Array, vocab: number, hidden: number, maxChunkRows?: number): EmbeddingTable {
  const rowsPerChunk = rowsPerBinding(device, hidden, 4, maxChunkRows);
  const chunks: EmbeddingTable['chunks'] = [];
  for (let first = 0; first < vocab; first += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, vocab - first);
    const name = rows === vocab ? label : `${label}[${first}:${first + rows}]`;
    chunks.push({ table: uploadTensor(device, name, data.subarray(first * hidden, (first + rows) * hidden), [rows, hidden]), first });
  }
  return { chunks };
}

/** The dispatches that gather word rows (+ extras) from every chunk of `table`: (N, C). */
export function embeddingDispatches(kernel: EmbeddingKernel, label: string, ids: GPUTensor, table: EmbeddingTable, out: GPUTensor, extra: EmbeddingExtras = {}): Dispatch[] {
  return table.chunks.map(({ table: chunk, first }, i) =>
    kernel.createDispatch(table.chunks.length === 1 ? label : `${label}.${i}`, ids, chunk, out, { ...extra, firstRow: first }),
  );
}

/** A [rows, cols] Linear (weight + bias) uploaded in row chunks, each within one storage binding. */
export interface RowChunkedLinear {
  rows: number;
  chunks: { weight: GPUTensor; bias: GPUTensor; first: number }[];
}

/** Rows of a [*, cols] table of `bytesPerValue` that fit one binding (or `maxRows`, if smaller). */
export function rowsPerBinding(device: GPUDevice, cols: number, bytesPerValue: number, maxRows?: number): number {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  return Math.max(1, Math.min(maxRows ?? Infinity, Math.floor(limit / (cols * bytesPerValue))));
}

/**
 * A vocabulary-sized decoder (ModernBERT's 50368 x 768 f32 is 148 MiB, XLM-R's 250002 x 768 is
 * 732 MiB; the default binding limit is 128 MiB) uploaded in row chunks; `linearDispatches` writes
 * each chunk's columns of the same output. One chunk when it fits.
 */
export function uploadRowChunkedLinear(
  device: GPUDevice,
  dtype: ModelDtype,
  label: string,
  weight: Float32Array,
  bias: Float32Array,
  rows: number,
  cols: number,
  maxRows?: number,
): RowChunkedLinear {
  const per = rowsPerBinding(device, cols, dtype === 'f16' ? 2 : 4, maxRows);
  const chunks: RowChunkedLinear['chunks'] = [];
  for (let first = 0; first < rows; first += per) {
    const n = Math.min(per, rows - first);
    const name = n === rows ? label : `${label}[${first}:${first + n}]`;
    chunks.push({
      weight: uploadWeight(device, dtype, name, weight.subarray(first * cols, (first + n) * cols), [n, cols]),
      bias: uploadTensor(device, `${name}.bias`, bias.subarray(first, first + n), [n]),
      first,
    });
  }
  return { rows, chunks };
}

/** x (M, K) -> out (M, rows): one bias matmul per chunk, each writing its own columns of out. */
export function linearDispatches(kernel: MatmulKernel, label: string, x: GPUTensor, linear: RowChunkedLinear, out: GPUTensor): Dispatch[] {
  if (linear.chunks.length === 1) return [kernel.createDispatch(label, x, linear.chunks[0].weight, out, { bias: linear.chunks[0].bias })];
  return linear.chunks.map((c, i) => kernel.createDispatch(`${label}.${i}`, x, c.weight, out, { bias: c.bias, outColumn: c.first }));
}

/**
 * The per-sequence outputs every architecture has: CLS row and masked mean of `last` (N, C), plain
 * and L2-normalised, (S, C) each; appends their dispatches to `d`.
 */
export function pooledOutputs(
  alloc: (label: string, shape: number[]) => GPUTensor,
  d: Dispatch[],
  k: { pooling: PoolingKernel; l2norm: L2NormKernel },
  last: GPUTensor,
  attentionMask: GPUTensor,
  sequenceTable: GPUTensor,
) {
  const S = sequenceTable.shape[0];
  const C = last.shape[1];
  const pooledCls = alloc('pooled_cls', [S, C]); // (S, C)
  const pooledMean = alloc('pooled_mean', [S, C]); // (S, C)
  const pooledClsNormalized = alloc('pooled_cls_normalized', [S, C]); // (S, C)
  const pooledMeanNormalized = alloc('pooled_mean_normalized', [S, C]); // (S, C)
  d.push(k.pooling.createDispatch('pooling', last, attentionMask, sequenceTable, pooledCls, pooledMean)); // (S, C) x2
  d.push(k.l2norm.createDispatch('normalize_cls', pooledCls, pooledClsNormalized)); // (S, C)
  d.push(k.l2norm.createDispatch('normalize_mean', pooledMean, pooledMeanNormalized)); // (S, C)
  return { pooledCls, pooledMean, pooledClsNormalized, pooledMeanNormalized };
}

/** A matmul's weight and optional bias on the GPU, as WeightArena.linear uploads them. */
export type LinearTensors = { weight: GPUTensor; bias: GPUTensor | null };

/** x W^T (+ bias when the linear has one) (+ residual when given) into out: one matmul dispatch. */
export function matmulDispatch(label: string, kernel: MatmulKernel, x: GPUTensor, w: LinearTensors, out: GPUTensor, residual?: GPUTensor): Dispatch {
  return kernel.createDispatch(label, x, w.weight, out, { ...(w.bias ? { bias: w.bias } : {}), ...(residual ? { residual } : {}) });
}

/**
 * The MLM transform head (BertPredictionHeadTransform and its decoder): the rows the head reads
 * (logitRowsInput), act(x Wd^T + bd) by `dense`, its norm, then the row-chunked decoder into
 * (M, V) logits. The labels are the architecture's (its dispatches and buffers keep its names).
 */
export function mlmTransformDispatches(
  p: { alloc: (label: string, shape: number[]) => GPUTensor; dispatches: Dispatch[] },
  k: { gather: EmbeddingKernel; dense: MatmulKernel; decoder: MatmulKernel },
  norm: (label: string, x: GPUTensor, out: GPUTensor) => Dispatch,
  head: { dense: LinearTensors; decoder: RowChunkedLinear },
  last: GPUTensor,
  logitRows: number | undefined,
  labels: { dense: string; denseOut: string; norm: string; normOut: string; decoder: string },
): { logits: GPUTensor; logitRows: GPUTensor | null } {
  const { alloc, dispatches: d } = p;
  const rows = logitRowsInput(alloc, d, k.gather, last, logitRows); // (M = N or R, C)
  const [M, C] = rows.input.shape;
  const t = alloc(labels.denseOut, [M, C]); // (M, C) act(x Wd^T + bd)
  const tn = alloc(labels.normOut, [M, C]); // (M, C)
  const logits = alloc('logits', [M, head.decoder.rows]); // (M, V)
  d.push(matmulDispatch(labels.dense, k.dense, rows.input, head.dense, t));
  d.push(norm(labels.norm, t, tn));
  d.push(...linearDispatches(k.decoder, labels.decoder, tn, head.decoder, logits)); // (M, V)
  return { logits, logitRows: rows.rows };
}

/** The BERT pooler, tanh(cls Wp^T + bp) into (S, C) `pooler_output`, when the model has one. */
export function poolerDispatch(
  p: { alloc: (label: string, shape: number[]) => GPUTensor; dispatches: Dispatch[] },
  kernel: MatmulKernel | null,
  pooledCls: GPUTensor,
  pooler: LinearTensors | null,
): GPUTensor | null {
  if (!pooler) return null;
  const out = p.alloc('pooler_output', [...pooledCls.shape]); // (S, C)
  p.dispatches.push(matmulDispatch('pooler', kernel!, pooledCls, pooler, out));
  return out;
}
