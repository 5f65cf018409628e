// Executes forward plans: inputs written with queue.writeBuffer, every dispatch recorded into one
// command encoder (one compute pass), requested outputs copied to staging buffers, one submit,
// one wait. Plans and their staging buffers are cached per batch shape; calls are serialised so
// concurrent callers never interleave on the GPU or share a staging buffer.
import { NeoBERTError } from './errors';
import { readBuffer } from './gpu';
import { InputError, type ForwardPlan, type NeoBERTModel } from './model';

export type OutputName =
  | 'lastHiddenState'
  | 'pooledCls'
  | 'pooledMean'
  | 'pooledClsNormalized'
  | 'pooledMeanNormalized'
  | 'logits';

export interface ForwardRequest {
  inputIds: ArrayLike<number>; // (B*L) row-major, right-padded
  attentionMask: ArrayLike<number>; // (B*L) 1 = token, 0 = padding
  batch: number;
  seqLen: number;
  /** Only these are read back; logits are computed only when asked for. */
  outputs: OutputName[];
}

export type ForwardResult = Partial<Record<OutputName, Float32Array>>;

/** GPU time of one dispatch, from timestamp queries (each dispatch in its own compute pass). */
export interface DispatchTiming {
  label: string;
  ms: number;
}

export interface RunnerStats {
  plansBuilt: number;
  forwards: number;
}

const MAX_CACHED_PLANS = 4;

export class Runner {
  private plans = new Map<string, { plan: ForwardPlan; staging: Map<OutputName, GPUBuffer> }>();
  private queue: Promise<unknown> = Promise.resolve();
  readonly stats: RunnerStats = { plansBuilt: 0, forwards: 0 };

  constructor(readonly model: NeoBERTModel) {}

  /** Runs the model on a batch; splits it into several forwards if it exceeds the device's limits. */
  forward(request: ForwardRequest): Promise<ForwardResult> {
    return this.enqueue(() => this.forwardNow(request));
  }

  /**
   * One forward with per-dispatch GPU timings from timestamp queries. Each dispatch gets its own
   * compute pass, which adds a little overhead, so use forward() for end-to-end figures.
   */
  profile(request: ForwardRequest): Promise<{ result: ForwardResult; timings: DispatchTiming[] }> {
    return this.enqueue(async () => {
      if (!this.model.device.features.has('timestamp-query')) {
        throw new NeoBERTError('profiling needs the timestamp-query feature, which this adapter does not offer');
      }
      const timings: DispatchTiming[] = [];
      const result = await this.forwardNow(request, timings);
      return { result, timings };
    });
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async forwardNow(request: ForwardRequest, timings?: DispatchTiming[]): Promise<ForwardResult> {
    const { inputIds, attentionMask, batch, seqLen, outputs } = request;
    this.model.validateInputs(inputIds, attentionMask, batch, seqLen);
    if (outputs.includes('logits') && this.model.headKind === 'none') {
      throw new InputError('logits requested, but this checkpoint has no MLM or classification head');
    }
    const withLogits = outputs.includes('logits');
    const maxTokens = this.model.maxTokensPerForward({ logits: withLogits });
    if (seqLen > maxTokens) {
      throw new InputError(`one sequence of ${seqLen} tokens needs more memory than this device allows in one binding (max ${maxTokens} tokens)`);
    }
    const perChunk = Math.min(batch, Math.floor(maxTokens / seqLen));
    if (perChunk === batch) return this.runChunk(inputIds, attentionMask, batch, seqLen, outputs, timings);

    const parts: ForwardResult[] = [];
    for (let b0 = 0; b0 < batch; b0 += perChunk) {
      const n = Math.min(perChunk, batch - b0);
      const slice = (a: ArrayLike<number>) => Array.prototype.slice.call(a, b0 * seqLen, (b0 + n) * seqLen) as number[];
      parts.push(await this.runChunk(slice(inputIds), slice(attentionMask), n, seqLen, outputs, timings));
    }
    const merged: ForwardResult = {};
    for (const name of outputs) {
      const chunks = parts.map((p) => p[name]!);
      const all = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
      let offset = 0;
      for (const c of chunks) {
        all.set(c, offset);
        offset += c.length;
      }
      merged[name] = all;
    }
    return merged;
  }

  private entryFor(batch: number, seqLen: number, withLogits: boolean) {
    const key = `${batch}x${seqLen}${withLogits ? '+logits' : ''}`;
    let entry = this.plans.get(key);
    if (entry) {
      // Refresh LRU position.
      this.plans.delete(key);
      this.plans.set(key, entry);
      return entry;
    }
    if (this.plans.size >= MAX_CACHED_PLANS) {
      const [oldestKey, oldest] = this.plans.entries().next().value!;
      oldest.plan.destroy();
      for (const s of oldest.staging.values()) s.destroy();
      this.plans.delete(oldestKey);
    }
    entry = { plan: this.model.planForward(batch, seqLen, { logits: withLogits }), staging: new Map() };
    this.stats.plansBuilt++;
    this.plans.set(key, entry);
    return entry;
  }

  private async runChunk(
    inputIds: ArrayLike<number>,
    attentionMask: ArrayLike<number>,
    batch: number,
    seqLen: number,
    outputs: OutputName[],
    timings?: DispatchTiming[],
  ): Promise<ForwardResult> {
    const device = this.model.device;
    const { plan, staging } = this.entryFor(batch, seqLen, outputs.includes('logits'));
    device.queue.writeBuffer(plan.inputIds.buffer, 0, Uint32Array.from(inputIds));
    device.queue.writeBuffer(plan.attentionMask.buffer, 0, Uint32Array.from(attentionMask));

    const encoder = device.createCommandEncoder({ label: `forward ${batch}x${seqLen}` });
    const timer = timings ? new PassTimer(device, plan.dispatches.length) : null;
    if (timer) {
      plan.dispatches.forEach((d, i) => {
        const pass = encoder.beginComputePass({ label: d.label, timestampWrites: timer.writes(i) });
        d.encode(pass);
        pass.end();
      });
      timer.resolve(encoder);
    } else {
      const pass = encoder.beginComputePass({ label: 'neobert' });
      for (const d of plan.dispatches) d.encode(pass);
      pass.end();
    }
    const reads: [OutputName, GPUBuffer, number][] = [];
    for (const name of outputs) {
      const tensor = plan.outputs[name];
      if (!tensor) throw new NeoBERTError(`output ${name} is not produced by this model`);
      const bytes = tensor.shape.reduce((a, b) => a * b, 1) * 4;
      let buffer = staging.get(name);
      if (!buffer) {
        buffer = device.createBuffer({ label: `${name}.staging`, size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        staging.set(name, buffer);
      }
      encoder.copyBufferToBuffer(tensor.buffer, 0, buffer, 0, bytes);
      reads.push([name, buffer, bytes]);
    }
    device.queue.submit([encoder.finish()]);
    this.stats.forwards++;

    await Promise.all(reads.map(([, buffer]) => buffer.mapAsync(GPUMapMode.READ)));
    const result: ForwardResult = {};
    for (const [name, buffer, bytes] of reads) {
      result[name] = new Float32Array(buffer.getMappedRange(0, bytes).slice(0));
      buffer.unmap();
    }
    if (timer && timings) {
      const ns = await timer.read();
      plan.dispatches.forEach((d, i) => timings.push({ label: d.label, ms: Number(ns[2 * i + 1] - ns[2 * i]) / 1e6 }));
      timer.destroy();
    }
    return result;
  }

  /** Reads one intermediate of the last plan of this shape by label (debugging). */
  async readIntermediate(batch: number, seqLen: number, label: string, withLogits = false): Promise<Float32Array> {
    const entry = this.plans.get(`${batch}x${seqLen}${withLogits ? '+logits' : ''}`);
    const tensor = entry?.plan.tensors.get(label);
    if (!tensor) throw new NeoBERTError(`no intermediate "${label}" for batch shape ${batch}x${seqLen}`);
    const bytes = tensor.shape.reduce((a, b) => a * b, 1) * 4;
    return new Float32Array(await readBuffer(this.model.device, tensor.buffer, bytes));
  }

  destroy(): void {
    for (const { plan, staging } of this.plans.values()) {
      plan.destroy();
      for (const s of staging.values()) s.destroy();
    }
    this.plans.clear();
  }
}

/** Begin/end timestamps for N compute passes, resolved into a mappable buffer. */
class PassTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly staging: GPUBuffer;

  constructor(device: GPUDevice, passes: number) {
    const count = 2 * passes;
    this.querySet = device.createQuerySet({ type: 'timestamp', count });
    this.resolved = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.staging = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  writes(pass: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * pass, endOfPassWriteIndex: 2 * pass + 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    encoder.resolveQuerySet(this.querySet, 0, this.querySet.count, this.resolved, 0);
    encoder.copyBufferToBuffer(this.resolved, 0, this.staging, 0, this.staging.size);
  }

  async read(): Promise<BigInt64Array> {
    await this.staging.mapAsync(GPUMapMode.READ);
    const ns = new BigInt64Array(this.staging.getMappedRange().slice(0));
    this.staging.unmap();
    return ns;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
    this.staging.destroy();
  }
}
