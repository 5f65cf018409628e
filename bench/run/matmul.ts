// Matmul microbenchmark, ours against gpu.js (browser-safe): the same shapes, the same data,
// y = x W^T with W [N, K] as stored. Each timed sample is `inner` back-to-back calls (each its
// own submit, for both engines) followed by one wait for the queue; engines alternate within
// every repeat because other work shares this machine. GFLOP/s = 2 M N K / time.
import type { EncoderConfig } from '../../src/models/types';
import { architectureOfConfig } from '../../src/models/index';
import { createBufferFrom, createStorageBuffer, readBuffer, type GPUContext } from '../../src/gpu';
import { MatmulKernel, type GPUTensor } from '../../src/kernels';
import { createGpujsMatmul, type GpujsModule } from '../peers/gpujs-matmul';
import { relL2, spread, type Spread } from './stats';

export interface MatmulShape {
  name: string;
  M: number;
  N: number;
  K: number;
}

export interface MatmulResult {
  engine: string;
  /** For ours: the kernel strategy ('tiled' | 'subgroup'); for gpu.js: the mode it ran in. */
  variant: string;
  shape: string;
  M: number;
  N: number;
  K: number;
  msPerCall: number;
  gflops: number;
  spread: Spread;
  firstCallMs: number;
  /** Rel L2 of this engine's output against ours (first variant). */
  relL2VsOurs?: number;
}

/**
 * The matmuls of one layer of this architecture at M tokens, y = x W^T with W [N, K] as our model
 * stores it: each architecture file says which (Architecture.layerMatmuls).
 */
export function layerShapesFor(config: EncoderConfig, M: number): MatmulShape[] {
  return architectureOfConfig(config).layerMatmuls(config).map((m) => ({ ...m, M }));
}

export function layerShapes(M: number, C: number, F: number, prefix = ''): MatmulShape[] {
  return [
    { name: `${prefix}qkv`, M, N: 3 * C, K: C },
    { name: `${prefix}wo`, M, N: C, K: C },
    { name: `${prefix}w12`, M, N: 2 * F, K: C },
    { name: `${prefix}w3`, M, N: C, K: F },
  ];
}

function fill(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return a;
}

interface Runner {
  engine: string;
  variant: string;
  first: number;
  call(): Promise<void> | void;
  sync(): Promise<void>;
  read(): Promise<Float32Array>;
  destroy(): void;
  times: number[];
}

async function ourRunner(gpu: GPUContext, strategy: string | undefined, shape: MatmulShape, x: Float32Array, w: Float32Array): Promise<Runner> {
  const { device } = gpu;
  const { M, N, K } = shape;
  const kernel = await (MatmulKernel.create as (d: GPUDevice, o?: Record<string, unknown>) => Promise<MatmulKernel>)(device, strategy ? { strategy } : {});
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const xT: GPUTensor = { label: 'x', shape: [M, K], buffer: createBufferFrom(device, 'x', x, usage) };
  const wT: GPUTensor = { label: 'w', shape: [N, K], buffer: createBufferFrom(device, 'w', w, usage) };
  const outT: GPUTensor = { label: 'out', shape: [M, N], buffer: createStorageBuffer(device, 'out', M * N * 4) };
  const dispatch = kernel.createDispatch('matmul', xT, wT, outT);
  const call = () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch.encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
  };
  const t = performance.now();
  call();
  await device.queue.onSubmittedWorkDone();
  return {
    engine: 'neobert-webgpu',
    variant: (kernel as unknown as { strategy?: string }).strategy ?? 'tiled',
    first: performance.now() - t,
    call,
    sync: () => device.queue.onSubmittedWorkDone(),
    read: async () => new Float32Array(await readBuffer(device, outT.buffer, M * N * 4)),
    destroy: () => {
      xT.buffer.destroy();
      wT.buffer.destroy();
      outT.buffer.destroy();
    },
    times: [],
  };
}

async function gpujsRunner(mod: GpujsModule, shape: MatmulShape, x: Float32Array, w: Float32Array): Promise<Runner> {
  const t = performance.now();
  const g = await createGpujsMatmul(mod, shape.M, shape.N, shape.K, x, w);
  await g.sync();
  return { engine: 'gpu.js', variant: g.mode, first: performance.now() - t, call: g.call, sync: g.sync, read: g.read, destroy: g.destroy, times: [] };
}

export interface MatmulBenchOptions {
  shapes: MatmulShape[];
  repeats: number;
  /** Aim for samples of at least this many ms (inner calls per sample adapt, max 16). */
  targetMs: number;
  /** Our strategies to run (undefined: the device's default only). */
  strategies?: (string | undefined)[];
  gpujs?: GpujsModule | null;
  log?: (line: string) => void;
}

export async function runMatmulBench(gpu: GPUContext, opts: MatmulBenchOptions): Promise<{ results: MatmulResult[]; errors: Record<string, string> }> {
  const results: MatmulResult[] = [];
  const errors: Record<string, string> = {};
  const log = opts.log ?? (() => {});
  for (const shape of opts.shapes) {
    const { M, N, K } = shape;
    const x = fill(M * K, 1 + M, 1);
    const w = fill(N * K, 7 + N, 1 / Math.sqrt(K));
    const runners: Runner[] = [];
    for (const s of opts.strategies ?? [undefined]) {
      try {
        runners.push(await ourRunner(gpu, s, shape, x, w));
      } catch (e) {
        errors[`neobert-webgpu${s ? `/${s}` : ''}`] = (e as Error).message;
      }
    }
    if (opts.gpujs) {
      try {
        runners.push(await gpujsRunner(opts.gpujs, shape, x, w));
      } catch (e) {
        errors['gpu.js'] = (e as Error).message;
      }
    }
    if (runners.length === 0) continue;
    // Calls per sample, from the slowest engine's first timed call.
    const probe: number[] = [];
    for (const r of runners) {
      const t = performance.now();
      await r.call();
      await r.sync();
      probe.push(performance.now() - t);
    }
    const inner = Math.max(1, Math.min(16, Math.round(opts.targetMs / Math.max(...probe, 0.01))));
    for (let rep = 0; rep < opts.repeats; rep++) {
      for (const r of runners) {
        const t = performance.now();
        for (let i = 0; i < inner; i++) await r.call();
        await r.sync();
        r.times.push((performance.now() - t) / inner);
      }
    }
    const reference = await runners[0].read();
    for (const r of runners) {
      const s = spread(r.times);
      const out = r === runners[0] ? reference : await r.read();
      const res: MatmulResult = {
        engine: r.engine,
        variant: r.variant,
        shape: shape.name,
        M,
        N,
        K,
        msPerCall: s.median,
        gflops: (2 * M * N * K) / s.median / 1e6,
        spread: s,
        firstCallMs: r.first,
        relL2VsOurs: r === runners[0] ? 0 : relL2(out, reference),
      };
      results.push(res);
      log(`  matmul ${shape.name} ${M}x${N}x${K} ${r.engine}/${r.variant}: ${res.msPerCall.toFixed(2)} ms, ${res.gflops.toFixed(2)} GFLOP/s (x${inner} per sample)`);
      r.destroy();
    }
  }
  return { results, errors };
}
