// Node child process running ONNX Runtime Web (forked by bench/run.ts; one engine per process so
// its wasm threads, V8 flags and GPU device stay out of the harness). Protocol over the IPC
// channel: {type:'init', backend, model} -> {type:'ready', ...}; {type:'inputs', seq, batch, ids}
// -> {type:'ok'}; {type:'run'} -> {type:'ran', ms}; {type:'output'} -> {type:'output', data};
// {type:'quit'}. Errors come back as {type:'error', message}.
//
// backend 'webgpu': onnxruntime-web/webgpu on Dawn (npm `webgpu`), the adapter our engine uses.
// As shipped this fails: ORT's wasm heap is a shared WebAssembly.Memory, ORT uploads with
// GPUQueue.writeBuffer(buffer, offset, <Uint8Array over that SharedArrayBuffer>, ...), and Dawn's
// Node binding rejects any view of a SharedArrayBuffer ("Invalid argument"; called directly with
// such a view it even segfaults). The child first reproduces that failure on a 1 x 8 input and
// reports it, then installs a shim that copies shared views into an ordinary ArrayBuffer before
// writeBuffer (one memcpy per upload, on ORT's side only) and runs the bench with it.
// backend 'wasm': the CPU build of onnxruntime-web for Node (ort.node), for scale.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createOrtEngine, type Ort, type OrtBackend, type OrtEngine } from './ort-engine';

type Message =
  | { type: 'init'; backend: OrtBackend; model: string; threads?: number; tickMs?: number; skipProbe?: boolean }
  | { type: 'inputs'; seq: number; batch: number; ids: number[] }
  | { type: 'run' }
  | { type: 'output' }
  | { type: 'quit' };

const send = (m: Record<string, unknown>) => process.send!(m);

function ortDist(file: string): string {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const p = path.join(dir, 'node_modules', 'onnxruntime-web', 'dist', file);
    if (existsSync(p)) return p;
    if (path.dirname(dir) === dir) throw new Error(`onnxruntime-web/dist/${file} not found`);
  }
}

let engine: OrtEngine | null = null;

function installSharedViewShim(device: GPUDevice): void {
  const proto = Object.getPrototypeOf(device.queue) as GPUQueue & { __sharedViewShim?: boolean };
  if (proto.__sharedViewShim) return;
  const original = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset?: number, size?: number) {
    if (ArrayBuffer.isView(data) && typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer) {
      const element = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      const start = data.byteOffset + (dataOffset ?? 0) * element;
      const length = size !== undefined ? size * element : data.byteLength - (dataOffset ?? 0) * element;
      return original.call(this, buffer, offset, new Uint8Array(data.buffer, start, length).slice());
    }
    return original.call(this, buffer, offset, data as GPUAllowSharedBufferSource, dataOffset, size);
  } as GPUQueue['writeBuffer'];
  proto.__sharedViewShim = true;
}

async function initWebGPU(model: Uint8Array, skipProbe = false): Promise<Record<string, unknown>> {
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: Record<string, unknown> };
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = dawn.create([]);
  (globalThis as Record<string, unknown>).__dawn = gpu; // keep the instance alive (see src/gpu.ts)
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const ort = (await import('onnxruntime-web/webgpu')) as unknown as Ort;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmBinary = readFileSync(ortDist('ort-wasm-simd-threaded.asyncify.wasm'));
  ort.env.logLevel = 'error';
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter (Dawn)');
  ort.env.webgpu.adapter = adapter;

  // 1. As shipped: reproduce the failure on a tiny input.
  let withoutShim: string;
  // skipProbe: the harness retries without it when the probe crashed the child (see run.ts).
  if (skipProbe) withoutShim = 'not tried';
  else try {
    const probe = await createOrtEngine(ort, model, 'webgpu');
    probe.setInputs(8, 1, Array.from({ length: 8 }, (_, i) => 101 + i));
    await probe.run();
    withoutShim = 'ok';
    await probe.release();
  } catch (e) {
    withoutShim = `${(e as Error).message ?? e}`;
  }
  // 2. With the shared-view shim on the GPUQueue prototype (shared by every Dawn device).
  const scratch = await adapter.requestDevice();
  installSharedViewShim(scratch);
  scratch.destroy();
  engine = await createOrtEngine(ort, model, 'webgpu');
  return { withoutShim, shim: 'GPUQueue.writeBuffer copies views of a SharedArrayBuffer into an ArrayBuffer', ortVersion: ort.env.versions?.web ?? ort.env.versions?.common };
}

async function initWasm(model: Uint8Array, threads?: number): Promise<Record<string, unknown>> {
  const ort = (await import('onnxruntime-web')) as unknown as Ort;
  if (threads) ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  engine = await createOrtEngine(ort, model, 'wasm');
  return { threads: ort.env.wasm.numThreads, ortVersion: ort.env.versions?.web ?? ort.env.versions?.common };
}

process.on('message', async (m: Message) => {
  try {
    if (m.type === 'init') {
      // Optional: keep the event loop waking up every tickMs (see bench/README.md: without
      // anything else scheduled, Dawn's Node binding can deliver ORT's mapAsync very late).
      if (m.tickMs) setInterval(() => {}, m.tickMs);
      const model = readFileSync(m.model);
      const info = m.backend === 'webgpu' ? await initWebGPU(model, m.skipProbe) : await initWasm(model, m.threads);
      send({ type: 'ready', loadMs: engine!.loadMs, adapter: engine!.adapter, execArgv: process.execArgv, ...info });
    } else if (m.type === 'inputs') {
      engine!.setInputs(m.seq, m.batch, m.ids);
      send({ type: 'ok' });
    } else if (m.type === 'run') {
      send({ type: 'ran', ms: await engine!.run() });
    } else if (m.type === 'output') {
      send({ type: 'output', data: Array.from(await engine!.output()) });
    } else if (m.type === 'quit') {
      await engine?.release().catch(() => {});
      process.exit(0);
    }
  } catch (e) {
    send({ type: 'error', message: `${(e as Error).message ?? e}` });
  }
});
send({ type: 'hello' });
