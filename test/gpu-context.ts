// One WebGPU device per test process. No adapter is a test FAILURE, never a skip: CI installs
// the software Vulkan driver (scripts/install-vulkan-driver.sh) so these tests always run.
import { createGPU, createBufferFrom, createStorageBuffer, readBuffer, type GPUContext } from '../src/gpu';
import type { GPUTensor } from '../src/kernels';

let context: Promise<GPUContext> | null = null;

export function testGPU(): Promise<GPUContext> {
  context ??= createGPU().then((gpu) => {
    gpu.device.addEventListener('uncapturederror', (e) => {
      throw new Error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
    });
    console.log(`[gpu] adapter: ${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`);
    return gpu;
  });
  return context;
}

export function tensorFrom(device: GPUDevice, label: string, data: Float32Array | Uint32Array, shape: number[]): GPUTensor {
  return { label, shape, buffer: createBufferFrom(device, label, data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC) };
}

export function emptyTensor(device: GPUDevice, label: string, shape: number[]): GPUTensor {
  return { label, shape, buffer: createStorageBuffer(device, label, shape.reduce((a, b) => a * b, 1) * 4) };
}

export async function runDispatches(device: GPUDevice, dispatches: { encode(p: GPUComputePassEncoder): void }[]): Promise<void> {
  device.pushErrorScope('validation');
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const d of dispatches) d.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`validation error: ${error.message}`);
}

export async function readTensor(device: GPUDevice, t: GPUTensor): Promise<Float32Array> {
  const n = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(await readBuffer(device, t.buffer, n * 4));
}
