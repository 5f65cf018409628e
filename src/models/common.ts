// Pieces every architecture's model file shares: weight upload (f32 or f16 halves) and the
// allocation of a plan's buffers by label.
import { encodeF16 } from '../dtype';
import { checkBufferSize, createBufferFrom, createStorageBuffer } from '../gpu';
import { elementCount, type Arithmetic, type Dispatch, type EmbeddingExtras, type EmbeddingKernel, type GPUTensor, type L2NormKernel, type MatmulKernel, type PoolingKernel } from '../kernels';
import { matmulStrategy } from '../capabilities';
import type { ModelDtype, ModelOptions } from './types';

/**
 * The arithmetic of a model's matmul and attention kernels: options.arithmetic, else 'f16' when the
 * weights are f16, the device has shader-f16 and the matmul strategy is the GPU one ('tiled').
 */
export function modelArithmetic(device: GPUDevice, options: ModelOptions): Arithmetic {
  if (options.arithmetic) return options.arithmetic;
  const strategy = options.matmulStrategy ?? matmulStrategy(device);
  return options.dtype === 'f16' && device.features.has('shader-f16') && strategy === 'tiled' ? 'f16' : 'f32';
}

/** An f32 (or u32) tensor uploaded once. */
export function uploadTensor(device: GPUDevice, label: string, data: Float32Array | Uint32Array, shape: number[]): GPUTensor {
  return { label, shape, buffer: createBufferFrom(device, label, data) };
}

/** A matmul weight: f32, or f16 halves (the shape stays logical, the buffer holds 2 bytes each). */
export function uploadWeight(device: GPUDevice, dtype: ModelDtype, label: string, data: Float32Array, shape: number[]): GPUTensor {
  return dtype === 'f16' ? { label, shape, buffer: createBufferFrom(device, label, encodeF16(data)) } : uploadTensor(device, label, data, shape);
}

/**
 * Allocates a plan's f32/u32 buffers by label, each checked against the device's limits, and
 * collects its dispatches; `destroy` frees them all (buffers and each dispatch's params buffer).
 */
export function planAllocator(device: GPUDevice) {
  const tensors = new Map<string, GPUTensor>();
  const dispatches: Dispatch[] = [];
  const alloc = (label: string, shape: number[]): GPUTensor => {
    checkBufferSize(device, `${label} [${shape}]`, elementCount(shape) * 4);
    const t = { label, shape, buffer: createStorageBuffer(device, label, elementCount(shape) * 4) };
    tensors.set(label, t);
    return t;
  };
  const destroy = () => {
    for (const t of tensors.values()) t.buffer.destroy();
    for (const d of dispatches) d.destroy?.();
  };
  return { alloc, tensors, destroy, dispatches };
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

/** Destroys every tensor's buffer. */
export function destroyAll(tensors: Iterable<GPUTensor | null | undefined>): void {
  for (const t of tensors) t?.buffer.destroy();
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
