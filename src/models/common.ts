// Pieces every architecture's model file shares: weight upload (f32 or f16 halves) and the
// allocation of a plan's buffers by label.
import { encodeF16 } from '../dtype';
import { checkBufferSize, createBufferFrom, createStorageBuffer } from '../gpu';
import { elementCount, type Dispatch, type EmbeddingKernel, type GPUTensor } from '../kernels';
import type { ModelDtype } from './types';

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
  dispatches.push(gather.bind('gather_logit_rows', rows, hidden, input));
  return { rows, input };
}

/** Destroys every tensor's buffer. */
export function destroyAll(tensors: Iterable<GPUTensor | null | undefined>): void {
  for (const t of tensors) t?.buffer.destroy();
}
