// ONNX Runtime Web peer (browser-safe): one InferenceSession on an exported encoder
// (bench/peers/<arch>_torch.py export: inputs input_ids, attention_mask int64 [B, L], plus
// token_type_ids for BERT (all 0 here); output last_hidden_state f32 [B, L, C]), timed per run() including the readback of the output to the
// CPU, exactly what our engine's timed forward does. The ort module is passed in so the same code
// serves the browser page and the Node child (bench/peers/ort-node.ts).
import type * as OrtModule from 'onnxruntime-web';

export type Ort = typeof OrtModule;
export type OrtBackend = 'webgpu' | 'wasm';

export interface OrtAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface OrtEngine {
  backend: OrtBackend;
  loadMs: number;
  /** The adapter ORT's WebGPU device runs on (webgpu only). */
  adapter: OrtAdapter | null;
  setInputs(seq: number, batch: number, ids: ArrayLike<number>): void;
  /** One run() on the current inputs; wall ms. */
  run(): Promise<number>;
  output(): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function createOrtEngine(ort: Ort, model: Uint8Array, backend: OrtBackend): Promise<OrtEngine> {
  const t = performance.now();
  const session = await ort.InferenceSession.create(model, { executionProviders: [backend], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const loadMs = performance.now() - t;
  let adapter: OrtAdapter | null = null;
  if (backend === 'webgpu') {
    try {
      const device = (await ort.env.webgpu.device) as GPUDevice;
      const info = device.adapterInfo;
      if (info) adapter = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
    } catch {
      adapter = null;
    }
  }
  let feeds: Record<string, OrtModule.Tensor> = {};
  const run = async () => {
    const result = await session.run(feeds);
    return result.last_hidden_state;
  };
  return {
    backend,
    loadMs,
    adapter,
    setInputs(seq, batch, ids) {
      const n = seq * batch;
      const idsI64 = new BigInt64Array(n);
      for (let i = 0; i < n; i++) idsI64[i] = BigInt(ids[i]);
      feeds = {
        input_ids: new ort.Tensor('int64', idsI64, [batch, seq]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [batch, seq]),
      };
      if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(n), [batch, seq]);
    },
    async run() {
      const t0 = performance.now();
      const out = await run();
      const ms = performance.now() - t0;
      out.dispose();
      return ms;
    },
    async output() {
      const out = await run();
      const data = new Float32Array(out.data as Float32Array);
      out.dispose();
      return data;
    },
    release: () => session.release(),
  };
}
