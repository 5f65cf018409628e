// Pieces every architecture's model file shares: weight upload (f32 or f16 halves) and the
// allocation of a plan's buffers by label.
import { encodeF16 } from '../dtype';
import { checkBufferSize, createBufferFrom, createStorageBuffer } from '../gpu';
import { elementCount, type Arithmetic, type GPUTensor } from '../kernels';
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

/** Allocates a plan's f32/u32 buffers by label, each checked against the device's limits; `destroy` frees them all. */
export function planAllocator(device: GPUDevice) {
  const tensors = new Map<string, GPUTensor>();
  const alloc = (label: string, shape: number[]): GPUTensor => {
    checkBufferSize(device, `${label} [${shape}]`, elementCount(shape) * 4);
    const t = { label, shape, buffer: createStorageBuffer(device, label, elementCount(shape) * 4) };
    tensors.set(label, t);
    return t;
  };
  const destroy = () => {
    for (const t of tensors.values()) t.buffer.destroy();
  };
  return { alloc, tensors, destroy };
}

/** Destroys every tensor's buffer. */
export function destroyAll(tensors: Iterable<GPUTensor | null | undefined>): void {
  for (const t of tensors) t?.buffer.destroy();
}
