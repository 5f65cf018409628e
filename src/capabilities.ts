// Device policy, in one place: what a device can run (CPU adapter or GPU, subgroup sizes,
// shader-f16) and the defaults that follow from it (matmul and attention strategies, one-row-per-
// thread norms, the arithmetic of a model's hot kernels). Kernel wrappers and models take their
// defaults from here; tests pick strategies explicitly and only report these facts.

/** Matmul kernel: 'tiled' (workgroup-memory tiles, GPUs) or 'subgroup' (register tiles fed by subgroup broadcasts, CPU adapters). */
export type MatmulStrategy = 'tiled' | 'subgroup';

/** Attention kernel: 'tiled' (workgroup-memory tiles) or 'subgroup' (one 8/4-lane subgroup, CPU adapters). */
export type AttentionStrategy = 'tiled' | 'subgroup';

/**
 * Arithmetic of the hot kernels: 'f32' (every kernel's default), or 'f16': operands rounded to
 * f16 (matmul x and W; attention q, k, v), exact products and f32 accumulation, softmax and
 * epilogues in f32 (kernels/matmul_f16.wgsl, kernels/attention_f16.wgsl). Needs shader-f16;
 * runs with the 'tiled' strategy only (the GPU kernels).
 */
export type Arithmetic = 'f32' | 'f16';

// Adapters that run WebGPU on the CPU (Mesa lavapipe/llvmpipe, SwiftShader).
const CPU_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

/** Whether the device runs WebGPU on the CPU (lavapipe, SwiftShader, a fallback adapter). */
export function isCpuAdapter(device: GPUDevice): boolean {
  const info = device.adapterInfo as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  return !!info && (!!info.isFallbackAdapter || CPU_ADAPTER.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`));
}

/** Whether the subgroup kernel can run: it broadcasts from lanes 0..7 of one subgroup. */
export function matmulSubgroupsUsable(device: GPUDevice): boolean {
  return device.features.has('subgroups' as GPUFeatureName) && (device.adapterInfo?.subgroupMinSize ?? 0) >= 8;
}

/** The matmul kernel for a device: 'subgroup' on CPU adapters that can run it, else 'tiled'. */
export function matmulStrategy(device: GPUDevice): MatmulStrategy {
  return isCpuAdapter(device) && matmulSubgroupsUsable(device) ? 'subgroup' : 'tiled';
}

/**
 * The smallest subgroup size the device guarantees, or 0 without the 'subgroups' feature. When
 * adapterInfo lacks subgroupMinSize (some browsers), SwiftShader counts as 4 wide and others as 0.
 */
export function subgroupMinSize(device: GPUDevice): number {
  if (!device.features.has('subgroups' as GPUFeatureName)) return 0;
  const info = device.adapterInfo as GPUAdapterInfo | undefined;
  const min = info?.subgroupMinSize;
  if (typeof min === 'number' && min > 0) return min;
  return /swiftshader/i.test(`${info?.vendor} ${info?.architecture} ${info?.description}`) ? 4 : 0;
}

/**
 * Lanes (workgroup size) of the subgroup attention kernel on this device: 8 when subgroups have at
 * least 8 invocations, 4 when they have at least 4 (SwiftShader), else 0 (not usable).
 */
export function attentionSubgroupLanes(device: GPUDevice): 0 | 4 | 8 {
  const min = subgroupMinSize(device);
  return min >= 8 ? 8 : min >= 4 ? 4 : 0;
}

/** The attention kernel for a device and head dim: 'subgroup' on CPU adapters that can run it (head dim within its registers). */
export function attentionStrategy(device: GPUDevice, headDim: number, subgroupMaxHeadDim: number): AttentionStrategy {
  return isCpuAdapter(device) && attentionSubgroupLanes(device) > 0 && headDim <= subgroupMaxHeadDim ? 'subgroup' : 'tiled';
}

/** Norm kernels' default layout: one thread per row (no barriers) on CPU adapters, a tree reduction on GPUs. */
export function normRowPerThread(device: GPUDevice): boolean {
  return isCpuAdapter(device);
}

/**
 * The arithmetic of a model's matmul and attention kernels: options.arithmetic, else 'f16' when the
 * weights are f16, the device has shader-f16 and the matmul strategy is the GPU one ('tiled').
 */
export function modelArithmetic(device: GPUDevice, options: { arithmetic?: Arithmetic; dtype?: 'f32' | 'f16'; matmulStrategy?: MatmulStrategy }): Arithmetic {
  if (options.arithmetic) return options.arithmetic;
  const strategy = options.matmulStrategy ?? matmulStrategy(device);
  return options.dtype === 'f16' && device.features.has('shader-f16') && strategy === 'tiled' ? 'f16' : 'f32';
}
