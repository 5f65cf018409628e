// One WebGPU device per test process. No adapter is a test FAILURE, never a skip: CI installs
// the software Vulkan driver (scripts/install-vulkan-driver.sh) so these tests always run.
//
// The suite passes on any adapter: tests pick the kernel strategy they mean to test and only
// REPORT adapter facts (vendor, subgroup sizes, optional features, default strategies), with
// lines starting "[adapter]". Which adapter: the Vulkan driver comes from VK_ICD_FILENAMES /
// VK_DRIVER_FILES, Dawn's backend and toggles from NEOBERT_DAWN_FLAGS, the power preference from
// NEOBERT_POWER_PREFERENCE (src/gpu.ts), and NEOBERT_ADAPTER (a case-insensitive regular
// expression) makes the run fail unless the adapter it got matches: that is how a run meant for
// a GPU cannot pass on lavapipe by accident. NEOBERT_TEST_FEATURES=none gives the tests a device
// with no optional feature (no subgroups, shader-f16 or timestamps) from the same adapter: the
// fallback paths of an adapter that lacks them, exercised on any adapter. See README, "Tests".
import { contextFromDevice, createGPU, createBufferFrom, createStorageBuffer, readBuffer, resolveGPUOptions, type GPUContext } from '../src/gpu';
import { isCpuAdapter, matmulStrategy, matmulSubgroupsUsable } from '../src/capabilities';
import { AttentionKernel, type GPUTensor } from '../src/kernels';

let context: Promise<GPUContext> | null = null;

/** The adapter facts the tests report (never assert): one line each. */
export function adapterFacts(gpu: GPUContext): string[] {
  const { device, adapter } = gpu;
  const info = device.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  return [
    `adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.device} (${adapter.description})`,
    `kind: ${isCpuAdapter(device) ? 'CPU adapter' : 'GPU'}${info.isFallbackAdapter ? ', fallback adapter' : ''}`,
    `features: ${adapter.features.join(', ') || 'none'}`,
    `subgroups: ${device.features.has('subgroups' as GPUFeatureName) ? `${info.subgroupMinSize ?? '?'}..${info.subgroupMaxSize ?? '?'} invocations` : 'not offered'}`,
    `default kernels: matmul '${matmulStrategy(device)}' (subgroup kernel usable: ${matmulSubgroupsUsable(device)}), ` +
      `attention '${AttentionKernel.defaultStrategy(device, 64)}' at head dim 64 (subgroup lanes ${AttentionKernel.subgroupLanes(device)})`,
    `limits: storage binding ${(device.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB, ` +
      `workgroup storage ${device.limits.maxComputeWorkgroupStorageSize} B, invocations ${device.limits.maxComputeInvocationsPerWorkgroup}`,
  ];
}

/** A console line about the adapter, marked so a log can be grepped for what was reported. */
export function reportAdapter(message: string): void {
  console.log(`[adapter] ${message}`);
}

/** Fails unless the adapter matches NEOBERT_ADAPTER (when set). */
export function checkRequestedAdapter(gpu: GPUContext, wanted = process.env.NEOBERT_ADAPTER): void {
  if (!wanted) return;
  const a = gpu.adapter;
  const name = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`;
  if (!new RegExp(wanted, 'i').test(name)) {
    throw new Error(
      `NEOBERT_ADAPTER=${JSON.stringify(wanted)} does not match the adapter this run got: "${name}". ` +
        'Point VK_ICD_FILENAMES / VK_DRIVER_FILES at that driver\'s ICD JSON, or set NEOBERT_DAWN_FLAGS / NEOBERT_POWER_PREFERENCE.',
    );
  }
}

/** The full device, or (NEOBERT_TEST_FEATURES=none) a device with no optional feature from the same adapter. */
async function createTestGPU(): Promise<GPUContext> {
  const gpu = await createGPU();
  const features = process.env.NEOBERT_TEST_FEATURES ?? 'all';
  if (features === 'all') return gpu;
  if (features !== 'none') throw new Error(`NEOBERT_TEST_FEATURES must be 'all' or 'none', not ${JSON.stringify(features)}`);
  const adapter = await requestSameAdapter(gpu);
  const l = adapter.limits;
  const plain = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const context = contextFromDevice(plain);
  // Keep the Dawn instance alive (it owns the adapter) and hand it on for second adapters.
  return Object.assign(context, { instance: gpu.instance, destroy: () => (plain.destroy(), gpu.destroy()) });
}

export function testGPU(): Promise<GPUContext> {
  context ??= createTestGPU().then((gpu) => {
    gpu.device.addEventListener('uncapturederror', (e) => {
      throw new Error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
    });
    console.log(`[gpu] adapter: ${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`);
    const { dawnFlags, powerPreference } = resolveGPUOptions();
    const icd = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
    reportAdapter(
      `requested: dawn flags [${dawnFlags.join(' ')}], power ${powerPreference}${icd ? `, Vulkan ICD ${icd}` : ''}, ` +
        `device features ${process.env.NEOBERT_TEST_FEATURES ?? 'all'}`,
    );
    for (const line of adapterFacts(gpu)) reportAdapter(line);
    checkRequestedAdapter(gpu);
    return gpu;
  });
  return context;
}

/** A second adapter from the test GPU instance, asked for with the same power preference. */
export async function requestSameAdapter(gpu: GPUContext): Promise<GPUAdapter> {
  const adapter = await gpu.instance!.requestAdapter({ powerPreference: resolveGPUOptions().powerPreference });
  if (!adapter) throw new Error('requestAdapter() returned null on the second request');
  return adapter;
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
