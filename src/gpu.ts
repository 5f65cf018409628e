// Device acquisition, limits, error capture and buffer helpers. The only module that knows
// whether we run on a browser's navigator.gpu or on Dawn in Node (npm package `webgpu`).
import { GPUOutOfMemoryError, GPUUnavailableError, GPUValidationError, EncoderError } from './errors';

export { GPUUnavailableError } from './errors';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  /** Name used for result files: "vendor-architecture" with unsafe characters replaced. */
  slug: string;
}

export interface GPUContext {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** Whether the device was created with shader-f16 (used by the f16 path). */
  hasF16: boolean;
  /** Whether timestamp queries are available for per-dispatch timing. */
  hasTimestamps: boolean;
  /** Resolves when the device is lost, with the reason; the model turns this into an error. */
  lost: Promise<GPUDeviceLostInfo>;
  /** The GPU (navigator.gpu or Dawn instance) the device came from; null after destroy(). */
  readonly instance: GPU | null;
  destroy(): void;
}

export interface CreateGPUOptions {
  /**
   * Dawn options for Node, e.g. 'backend=vulkan'. Default: $NEOBERT_DAWN_FLAGS split on whitespace,
   * else DEFAULT_DAWN_FLAGS (shader-f16 on NVIDIA's Vulkan driver); flags given here replace it.
   */
  dawnFlags?: string[];
  /** Default: $NEOBERT_POWER_PREFERENCE in Node ('low-power' | 'high-performance'), else 'high-performance'. */
  powerPreference?: GPUPowerPreference;
}

/**
 * A Node environment variable, or undefined (browsers have no process). Lets tests, benches and
 * the CLI be pointed at an adapter without code changes: the Vulkan driver itself is chosen with
 * VK_ICD_FILENAMES / VK_DRIVER_FILES, Dawn's backend and toggles with NEOBERT_DAWN_FLAGS.
 */
function environment(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.[name]?.trim();
  return value ? value : undefined;
}

/** The Dawn options and power preference createGPU uses for these options (env defaults applied). */
export function resolveGPUOptions(options: CreateGPUOptions = {}): { dawnFlags: string[]; powerPreference: GPUPowerPreference } {
  const preference = environment('NEOBERT_POWER_PREFERENCE');
  if (preference !== undefined && preference !== 'low-power' && preference !== 'high-performance') {
    throw new EncoderError(`NEOBERT_POWER_PREFERENCE must be 'low-power' or 'high-performance', not '${preference}'`);
  }
  return {
    dawnFlags: options.dawnFlags ?? environment('NEOBERT_DAWN_FLAGS')?.split(/\s+/) ?? [...DEFAULT_DAWN_FLAGS],
    powerPreference: options.powerPreference ?? (preference as GPUPowerPreference | undefined) ?? 'high-performance',
  };
}

// Node has no navigator.gpu: load Dawn's binding lazily so browser bundles never see it.
async function nodeGPU(flags: string[]): Promise<GPU> {
  const moduleName = 'webgpu';
  let dawn: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    dawn = await import(/* @vite-ignore */ moduleName);
  } catch (e) {
    throw new GPUUnavailableError(
      `WebGPU is not available: no navigator.gpu and the npm package "webgpu" (Dawn for Node) could not be loaded (${(e as Error).message})`,
    );
  }
  // GPUBufferUsage, GPUMapMode, ... are used as globals by this code and by callers.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  return dawn.create(flags);
}

function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info;
  const features = [...adapter.features].sort();
  const slug = `${info.vendor || 'unknown'}-${info.architecture || info.device || 'gpu'}`
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-');
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    features,
    slug,
  };
}

/**
 * Dawn exposes shader-f16 on NVIDIA's Vulkan driver only with this toggle (other adapters ignore
 * it); the f16-arithmetic kernels need the feature. Applies to Node (Dawn) only.
 */
export const DEFAULT_DAWN_FLAGS: readonly string[] = ['enable-dawn-features=vulkan_enable_f16_on_nvidia'];

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];

export async function createGPU(options: CreateGPUOptions = {}): Promise<GPUContext> {
  const { dawnFlags, powerPreference } = resolveGPUOptions(options);
  const gpu: GPU =
    typeof navigator !== 'undefined' && (navigator as Navigator).gpu ? (navigator as Navigator).gpu : await nodeGPU(dawnFlags);
  const adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter) {
    throw new GPUUnavailableError(
      'WebGPU is not available: requestAdapter() returned null. In Node this means no Vulkan driver was found ' +
        '(install Mesa lavapipe: scripts/install-vulkan-driver.sh); in a browser, use a recent Chrome/Edge (113+) or enable WebGPU.',
    );
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  // Ask for the adapter's full buffer limits: the default 128 MiB binding would cap the
  // vocabulary matrices (30522 x 768 f32 = 94 MB fits; bigger models would not).
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const description = describeAdapter(adapter);
  let destroyed = false;
  // Dawn for Node tears the instance down when the GPU object is garbage collected, even with a
  // live device (then mapAsync never resolves or the process aborts): keep it until destroy().
  let instance: GPU | null = gpu;
  return {
    device,
    adapter: description,
    hasF16: device.features.has('shader-f16'),
    hasTimestamps: device.features.has('timestamp-query'),
    lost: device.lost,
    get instance() {
      return instance;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
      instance = null;
    },
  };
}

/**
 * Runs `body` (sync or async) inside out-of-memory and validation error scopes and turns what
 * WebGPU reports into a typed error: GPUOutOfMemoryError / GPUValidationError naming `what`
 * ("uploading the weights of X", "a forward plan for 4096 tokens") and what to try. An error
 * `body` throws itself wins (the scopes are still popped). Errors from other work on the same
 * device while `body` runs land in these scopes too: WebGPU scopes are per device, not per call.
 */
export async function withErrorScope<T>(device: GPUDevice, what: string, body: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  let thrown: unknown = null;
  try {
    result = await body();
  } catch (error) {
    thrown = error ?? new Error(String(error));
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (thrown) throw thrown;
  if (oom) {
    throw new GPUOutOfMemoryError(
      `the GPU ran out of memory ${what} (${oom.message.split('\n')[0]}); try dtype 'f16' (half the weight memory), a smaller batchSize or maxLength, or closing other GPU work`,
      what,
    );
  }
  if (validation) {
    throw new GPUValidationError(
      `WebGPU rejected ${what} (${validation.message.split('\n')[0]}); this device's limits may be too small for it: try a smaller batchSize or maxLength, or dtype 'f16'`,
      what,
    );
  }
  return result!;
}

export function createBufferFrom(
  device: GPUDevice,
  label: string,
  data: ArrayBufferView,
  usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE,
): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
  checkBufferSize(device, label, size);
  const buffer = device.createBuffer({ label, size, usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  pendingUploadBytes.set(device, (pendingUploadBytes.get(device) ?? 0) + size);
  return buffer;
}

/** Bytes uploaded with createBufferFrom since the device last finished its queued work. */
const pendingUploadBytes = new WeakMap<GPUDevice, number>();

/**
 * Waits for the device to finish its queued uploads once more than `thresholdBytes` are pending.
 * A buffer created mapped (createBufferFrom) is copied through a staging buffer of its size that
 * the implementation frees only when that copy has run: uploading a whole checkpoint without
 * waiting holds a second copy of every weight at once (on CPU adapters, in RSS). Model creation
 * calls this between layers.
 */
export async function drainUploads(device: GPUDevice, thresholdBytes = 64 * 2 ** 20): Promise<void> {
  if ((pendingUploadBytes.get(device) ?? 0) <= thresholdBytes) return;
  device.queue.submit([]);
  await device.queue.onSubmittedWorkDone();
  pendingUploadBytes.set(device, 0);
}

export function createStorageBuffer(device: GPUDevice, label: string, byteLength: number, extraUsage = 0): GPUBuffer {
  const size = Math.max(16, Math.ceil(byteLength / 4) * 4);
  checkBufferSize(device, label, size);
  return device.createBuffer({
    label,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
  });
}

/** A binding larger than the device allows fails validation deep inside WebGPU; say it here. */
export function checkBufferSize(device: GPUDevice, label: string, byteLength: number): void {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (byteLength > limit) {
    throw new EncoderError(
      `${label} needs ${(byteLength / 2 ** 20).toFixed(1)} MiB, over this device's storage binding limit of ` +
        `${(limit / 2 ** 20).toFixed(1)} MiB; use fewer tokens per batch`,
    );
  }
}

export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, byteLength = buffer.size): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size: byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, byteLength);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0);
  // Unmap before destroy: Dawn's Node binding aborts the process on destroying a mapped buffer.
  staging.unmap();
  staging.destroy();
  return copy;
}

/** A GPUContext around a device the caller owns (shared; its destroy() is the caller's to call). */
export function contextFromDevice(device: GPUDevice): GPUContext {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  return {
    device,
    adapter: {
      vendor,
      architecture,
      device: info?.device ?? '',
      description: info?.description ?? '',
      features: [...device.features].sort(),
      slug: `${vendor || 'unknown'}-${architecture || 'gpu'}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-'),
    },
    hasF16: device.features.has('shader-f16'),
    hasTimestamps: device.features.has('timestamp-query'),
    lost: device.lost,
    instance: null,
    destroy: () => device.destroy(),
  };
}


/**
 * Lets the device free buffers destroyed since its last queue work: implementations release them
 * only after the queue has moved past their last use (Dawn: on a later tick), so a model disposed
 * on a shared device would otherwise keep its memory until the next unrelated submit.
 */
export async function releaseDestroyed(device: GPUDevice, ticks = 2): Promise<void> {
  for (let i = 0; i < ticks; i++) {
    device.queue.submit([]);
    await device.queue.onSubmittedWorkDone();
  }
}
