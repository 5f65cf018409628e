// gpu.js peer: y = x W^T (x [M, K], W [N, K] as stored, like our MatmulKernel) written the way
// gpu.js is meant to be used -- one JavaScript kernel function per output element, transpiled by
// gpu.js to WGSL (its `webgpu` mode, gpu.js >= 2.20). Inputs are uploaded once as GPU-resident
// pipeline handles and the output stays on the GPU (pipeline: true), so a timed call is the
// matmul dispatch itself, like ours. Works in Node (navigator.gpu from Dawn) and in a browser.
// The gpu.js module is passed in (Node: require('gpu.js'); browser: import * as gpujs from 'gpu.js').

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface GpujsModule {
  GPU: any;
  input: (values: Float32Array, size: number[]) => unknown;
}

export interface GpujsMatmul {
  /** Mode gpu.js actually runs the kernel in (must be 'webgpu' to count as a WebGPU peer). */
  mode: string;
  /** One matmul; resolves when it has been submitted (not finished). */
  call(): Promise<void>;
  /** Resolves when all submitted GPU work is done. */
  sync(): Promise<void>;
  /** The result, row-major [M, N]. */
  read(): Promise<Float32Array>;
  destroy(): void;
}

export async function createGpujsMatmul(mod: GpujsModule, M: number, N: number, K: number, x: Float32Array, w: Float32Array): Promise<GpujsMatmul> {
  const gpu = new mod.GPU({ mode: 'webgpu' });
  const copy = (rows: number, cols: number) =>
    gpu.createKernel(
      function (this: any, a: number[][]) {
        return a[this.thread.y][this.thread.x];
      },
      { output: [cols, rows], pipeline: true },
    );
  const hx = await copy(M, K)(mod.input(x, [K, M]));
  const hw = await copy(N, K)(mod.input(w, [K, N]));
  const kernel = gpu.createKernel(
    function (this: any, a: number[][], b: number[][]) {
      let sum = 0;
      for (let i = 0; i < this.constants.K; i++) {
        sum += a[this.thread.y][i] * b[this.thread.x][i];
      }
      return sum;
    },
    { output: [N, M], constants: { K }, pipeline: true },
  );
  let out: any = await kernel(hx, hw);
  const device: GPUDevice = out.context.device;
  const mode: string = kernel.kernel?.constructor?.mode ?? kernel.constructor?.mode ?? 'unknown';
  return {
    mode,
    async call() {
      out = await kernel(hx, hw);
    },
    sync: () => device.queue.onSubmittedWorkDone(),
    async read() {
      const rows: Float32Array[] = await out.toArray();
      const flat = new Float32Array(M * N);
      rows.forEach((r, i) => flat.set(r, i * N));
      return flat;
    },
    destroy() {
      gpu.destroy?.();
    },
  };
}
