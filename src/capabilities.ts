// What a device can run, in one place: CPU adapters (lavapipe, SwiftShader) versus GPUs, and the
// subgroup sizes the register-tiled kernels need. Kernel wrappers pick their default strategy
// from these; tests pick strategies explicitly and only report these facts.
import type { MatmulStrategy } from './kernels';

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
