// Our engine as the bench drives it (browser-safe): a model of any registered architecture + Runner
// on one device, loaded from a checkpoint source (the architecture picked by config.json
// model_type: parseConfig, loadWeights, createModel) or NeoBERT built from its base config with
// random weights, timed per forward.
import { loadCheckpoint, type CheckpointSource } from '../../src/checkpoint';
import { parseNeoBERTConfig as parseConfig, NEOBERT_BASE_CONFIG_JSON, neobert, type NeoBERTConfig, type NeoBERTWeights } from '../../src/models/neobert';
import type { Architecture, EncoderConfig, EncoderModel } from '../../src/models/types';
import type { GPUContext } from '../../src/gpu';
import { Runner, type DispatchTiming } from '../../src/runner';
import { bufferBytes, reachableBuffers } from './memory';

export type ModelSpec = { kind: 'checkpoint'; source: CheckpointSource; label: string } | { kind: 'base'; label: string };

export interface ModelDescription {
  label: string;
  /** The architecture's parsed config (NeoBERTConfig, BertConfig, ModernBertConfig, ...). */
  config: EncoderConfig;
  parameters: number;
  /** Storage dtypes of the checkpoint, e.g. { F16: 26 }, or 'random' weights. */
  weights: Record<string, number> | 'random';
  /** Options the model was created with (dtype, matmul strategy), as the engine reports them. */
  engineOptions: Record<string, unknown>;
}

export interface MemoryFigure {
  /** Weights, RoPE table and the kernels' placeholder buffers. */
  weightsBytes: number;
  /** Every buffer of the forward plan of this shape (activations, inputs, outputs, uniforms). */
  planBytes: number;
  /** Mappable staging buffers for the outputs read back. */
  stagingBytes: number;
  totalBytes: number;
}

/** Random weights at a realistic scale (the timing does not depend on the values). */
export function randomWeights(config: NeoBERTConfig): NeoBERTWeights {
  let seed = 1;
  const random = (n: number, scale: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      a[i] = (seed / 4294967296 - 0.5) * 2 * scale;
    }
    return a;
  };
  const { hiddenSize: C, ffnWidth: F, vocabSize: V } = config;
  return {
    embedding: random(V * C, 1),
    layers: Array.from({ length: config.numLayers }, () => ({
      attentionNorm: new Float32Array(C).fill(1),
      qkv: random(3 * C * C, 1 / Math.sqrt(C)),
      wo: random(C * C, 1 / Math.sqrt(C)),
      ffnNorm: new Float32Array(C).fill(1),
      w12: random(2 * F * C, 1 / Math.sqrt(C)),
      w3: random(C * F, 1 / Math.sqrt(F)),
    })),
    finalNorm: new Float32Array(C).fill(1),
    head: { kind: 'none' },
  };
}

export function baseConfig(): NeoBERTConfig {
  return parseConfig({ ...NEOBERT_BASE_CONFIG_JSON }, 'NeoBERT base config');
}

/** Aggregates per-dispatch timings by kernel kind: "layer12.qkv" -> "qkv". */
export function aggregateTimings(timings: DispatchTiming[]): Record<string, { ms: number; count: number }> {
  const out: Record<string, { ms: number; count: number }> = {};
  for (const { label, ms } of timings) {
    const kind = label.replace(/^layer\d+\./, '');
    const entry = (out[kind] ??= { ms: 0, count: 0 });
    entry.ms += ms;
    entry.count++;
  }
  return out;
}

export class OursEngine {
  readonly name = 'neobert-webgpu';
  private constructor(
    readonly gpu: GPUContext,
    readonly model: EncoderModel,
    readonly runner: Runner,
    readonly description: ModelDescription,
    /** Read + parse of the checkpoint (0 for random weights). */
    readonly readMs: number,
    /** Weight upload and pipeline compilation (NeoBERTModel.create, until the queue is idle). */
    readonly createMs: number,
  ) {}

  get loadMs(): number {
    return this.readMs + this.createMs;
  }

  static async load(gpu: GPUContext, spec: ModelSpec, engineOptions: Record<string, unknown> = {}): Promise<OursEngine> {
    let t = performance.now();
    let architecture: Architecture<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    let config: EncoderConfig;
    let weights: unknown;
    let parameters: number;
    let dtypes: Record<string, number> | 'random';
    if (spec.kind === 'checkpoint') {
      const loaded = await loadCheckpoint(spec.source);
      ({ architecture, config, weights, parameterCount: parameters, dtypes } = loaded);
    } else {
      architecture = neobert;
      config = baseConfig();
      weights = randomWeights(config as NeoBERTConfig);
      const { hiddenSize: C, ffnWidth: F, vocabSize: V, numLayers } = config as NeoBERTConfig;
      parameters = V * C + numLayers * (2 * C + 4 * C * C + 3 * F * C) + C;
      dtypes = 'random';
    }
    const readMs = performance.now() - t;
    t = performance.now();
    // Options (dtype, matmulStrategy) are passed only when given, so this works with engines
    // whose create() takes three arguments too.
    const model = Object.keys(engineOptions).length
      ? await architecture.createModel(gpu.device, config, weights, engineOptions)
      : await architecture.createModel(gpu.device, config, weights);
    await gpu.device.queue.onSubmittedWorkDone();
    const createMs = performance.now() - t;
    const reported: Record<string, unknown> = { ...engineOptions };
    const m = model as unknown as { dtype?: string; kernels?: { matmul?: { strategy?: string } } };
    if (m.dtype) reported.dtype = m.dtype;
    if (m.kernels?.matmul?.strategy) reported.matmulStrategy = m.kernels.matmul.strategy;
    const description: ModelDescription = { label: spec.label, config, parameters, weights: dtypes, engineOptions: reported };
    return new OursEngine(gpu, model, new Runner(model), description, readMs, createMs);
  }

  private request(seq: number, batch: number, ids: Int32Array, mask: Int32Array) {
    return { inputIds: ids, attentionMask: mask, batch, seqLen: seq, outputs: ['lastHiddenState' as const] };
  }

  /** One forward (with readback of last_hidden_state); returns wall ms. */
  async run(seq: number, batch: number, ids: Int32Array, mask: Int32Array): Promise<number> {
    const t = performance.now();
    await this.runner.forward(this.request(seq, batch, ids, mask));
    return performance.now() - t;
  }

  async output(seq: number, batch: number, ids: Int32Array, mask: Int32Array): Promise<Float32Array> {
    return (await this.runner.forward(this.request(seq, batch, ids, mask))).lastHiddenState!;
  }

  get canProfile(): boolean {
    return this.gpu.device.features.has('timestamp-query');
  }

  /** Per-kernel GPU time of one forward, aggregated by kernel kind, plus the total. */
  async profile(seq: number, batch: number, ids: Int32Array, mask: Int32Array): Promise<{ kernels: Record<string, { ms: number; count: number }>; totalMs: number }> {
    const { timings } = await this.runner.profile(this.request(seq, batch, ids, mask));
    return { kernels: aggregateTimings(timings), totalMs: timings.reduce((s, t) => s + t.ms, 0) };
  }

  /**
   * GPU memory this shape needs: buffers of the weights plus those of a fresh plan of the shape
   * (built and destroyed here, before the timed runs) plus the staging buffer of the output.
   */
  memory(seq: number, batch: number): MemoryFigure {
    const weights = reachableBuffers(this.model);
    const weightsBytes = bufferBytes(weights);
    const { hiddenSize: C } = this.description.config;
    const maxTokens = this.model.maxTokensPerForward({ logits: false });
    const perChunk = Math.max(1, Math.min(batch, Math.floor(maxTokens / seq)));
    const plan = this.model.planForward(perChunk, seq, { logits: false });
    const planBuffers = [...reachableBuffers(plan)].filter((b) => !weights.has(b));
    const planBytes = bufferBytes(planBuffers);
    plan.destroy();
    const stagingBytes = perChunk * seq * C * 4;
    return { weightsBytes, planBytes, stagingBytes, totalBytes: weightsBytes + planBytes + stagingBytes };
  }

  destroy(): void {
    this.runner.destroy();
    this.model.destroy();
  }
}
