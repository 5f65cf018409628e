// Step 1 of bench/gpu/run.sh: can Dawn get an adapter here, and which one? Prints one JSON line
// (and writes it to --json): the adapter, its features, subgroup sizes, limits and the kernels the
// engine would pick. Exit 0 with an adapter, 3 without one (the message says why).
//   node adapter.mjs [--json FILE] [--require-gpu]
// --require-gpu: exit 4 when the adapter is a CPU one (lavapipe, SwiftShader), so run.sh can try
// the next Vulkan driver instead of benchmarking the software adapter by mistake.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { createGPU, resolveGPUOptions } from '../../src/gpu';
import { isCpuAdapter, matmulStrategy, matmulSubgroupsUsable } from '../../src/capabilities';
import { AttentionKernel } from '../../src/kernels';

const { values } = parseArgs({ options: { json: { type: 'string' }, 'require-gpu': { type: 'boolean', default: false } } });
let gpu;
try {
  gpu = await createGPU();
} catch (e) {
  const result = { ok: false, error: `${(e as Error).name}: ${(e as Error).message}`, options: resolveGPUOptions(), env: pick() };
  console.log(JSON.stringify(result));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 1));
  process.exit(3);
}
function pick() {
  const names = ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'LD_LIBRARY_PATH', 'NEOBERT_DAWN_FLAGS', 'NEOBERT_POWER_PREFERENCE'];
  return Object.fromEntries(names.filter((n) => process.env[n]).map((n) => [n, process.env[n]]));
}
const device = gpu.device;
const info = device.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
const l = device.limits;
const result = {
  ok: true,
  adapter: gpu.adapter,
  cpu: isCpuAdapter(device),
  hasF16: gpu.hasF16,
  hasTimestamps: gpu.hasTimestamps,
  subgroups: device.features.has('subgroups' as GPUFeatureName) ? { min: info.subgroupMinSize ?? null, max: info.subgroupMaxSize ?? null } : null,
  defaults: {
    matmul: matmulStrategy(device),
    matmulSubgroupUsable: matmulSubgroupsUsable(device),
    attention: AttentionKernel.defaultStrategy(device, 64),
    attentionLanes: AttentionKernel.subgroupLanes(device),
  },
  limits: {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
  },
  options: resolveGPUOptions(),
  env: pick(),
};
console.log(JSON.stringify(result));
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 1));
gpu.destroy();
process.exit(values['require-gpu'] && result.cpu ? 4 : 0);
