// Executes forward plans: inputs and tables written with queue.writeBuffer, every dispatch
// recorded into one command encoder (one compute pass), requested outputs copied to staging
// buffers, one submit, one wait. Plans and their staging buffers are cached per capacity;
// calls are serialised so concurrent callers never interleave on the GPU or share a staging
// buffer.
//
// Two ways in:
//   forward()        a right-padded [B, L] batch, exactly like the reference (padded rows are
//                    computed too, so every output position matches PyTorch);
//   forwardPacked()  sequences of any lengths packed back to back with no padding at all: a
//                    512-token and seven 16-token texts cost 640 rows of work, not 8 x 512.
import { InputError, NeoBERTError } from './errors';
import { readBuffer } from './gpu';
import { AttentionKernel, PoolingKernel } from './kernels';
import type { EncoderModel, ForwardPlan } from './models/types';
import { paddedSequences, tokenPositions, type SequenceRange } from './tables';
import { validatePackedSequences, validatePaddedBatch } from './validate';

export type OutputName =
  | 'lastHiddenState'
  | 'pooledCls'
  | 'pooledMean'
  | 'pooledClsNormalized'
  | 'pooledMeanNormalized'
  | 'poolerOutput'
  | 'logits';

export interface ForwardRequest {
  inputIds: ArrayLike<number>; // (B*L) row-major, right-padded
  attentionMask: ArrayLike<number>; // (B*L) 1 = token, 0 = padding
  /** (B*L) segment ids (BERT sentence pairs); all 0 when absent. */
  tokenTypeIds?: ArrayLike<number>;
  batch: number;
  seqLen: number;
  /** Only these are read back; logits are computed only when asked for. */
  outputs: OutputName[];
}

export interface PackedRequest {
  /** Token ids of each sequence ([CLS] ... [SEP]), no padding. */
  sequences: ArrayLike<number>[];
  /** Segment ids of each sequence (same lengths); all 0 when absent. */
  typeIds?: ArrayLike<number>[];
  outputs: OutputName[];
}

/**
 * Outputs by name. Padded forward: token outputs (B*L, ...) and per-sequence outputs (B, ...).
 * Packed forward: token outputs (sum of lengths, ...) in sequence order, per-sequence (S, ...).
 */
export type ForwardResult = Partial<Record<OutputName, Float32Array>>;

/** GPU time of one dispatch, from timestamp queries (each dispatch in its own compute pass). */
export interface DispatchTiming {
  label: string;
  ms: number;
}

export interface RunnerStats {
  plansBuilt: number;
  forwards: number;
  /** Token rows run through the model, padding and capacity rounding included. */
  tokensComputed: number;
}

const MAX_CACHED_PLANS = 6;
const PER_SEQUENCE: ReadonlySet<OutputName> = new Set(['pooledCls', 'pooledMean', 'pooledClsNormalized', 'pooledMeanNormalized', 'poolerOutput']);

/** One GPU forward's inputs, already laid out as the plan's tables expect. */
interface Chunk {
  tokens: number; // real tokens (rows past it are dummies up to the plan's capacity)
  ranges: SequenceRange[];
  inputIds: Uint32Array<ArrayBuffer>; // (tokens)
  attentionMask: Uint32Array<ArrayBuffer>; // (tokens)
  tokenTypeIds: Uint32Array<ArrayBuffer> | null; // (tokens), null = all 0
  outputs: OutputName[];
  exactCapacity: boolean; // padded batches use plans of exactly their shape
}

/**
 * Token rows a packed forward of `tokens` tokens computes: plans are built for a few capacities
 * so that batches of nearby sizes share one (powers of two from 16 to 128, then multiples of
 * 128, 512 above 1024 tokens and 2048 above 8192).
 */
export function packedTokenCapacity(tokens: number): number {
  if (tokens <= 128) return Math.max(16, 2 ** Math.ceil(Math.log2(tokens)));
  const step = tokens <= 1024 ? 128 : tokens <= 8192 ? 512 : 2048;
  return Math.ceil(tokens / step) * step;
}

export class Runner {
  private plans = new Map<string, { plan: ForwardPlan; staging: Map<OutputName, GPUBuffer> }>();
  private queue: Promise<unknown> = Promise.resolve();
  readonly stats: RunnerStats = { plansBuilt: 0, forwards: 0, tokensComputed: 0 };

  constructor(readonly model: EncoderModel) {}

  /** Runs the model on a padded batch; splits it into several forwards if it exceeds the device's limits. */
  forward(request: ForwardRequest): Promise<ForwardResult> {
    return this.enqueue(() => this.forwardNow(request));
  }

  /** Runs the model on sequences packed with no padding (see the header). */
  forwardPacked(request: PackedRequest): Promise<ForwardResult> {
    return this.enqueue(() => this.forwardPackedNow(request));
  }

  /**
   * One padded forward with per-dispatch GPU timings from timestamp queries. Each dispatch gets
   * its own compute pass, which adds a little overhead, so use forward() for end-to-end figures.
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

  private checkOutputs(outputs: OutputName[]): number {
    if (outputs.includes('logits') && this.model.headKind === 'none') {
      throw new InputError('logits requested, but this checkpoint has no MLM or classification head');
    }
    if (outputs.includes('poolerOutput') && !this.model.hasPooler) {
      throw new InputError('poolerOutput requested, but this checkpoint has no pooler');
    }
    return this.model.maxTokensPerForward({ logits: outputs.includes('logits') });
  }

  private async forwardNow(request: ForwardRequest, timings?: DispatchTiming[]): Promise<ForwardResult> {
    const { inputIds, attentionMask, tokenTypeIds, batch, seqLen, outputs } = request;
    validatePaddedBatch(this.model.config, inputIds, attentionMask, tokenTypeIds, batch, seqLen);
    const maxTokens = this.checkOutputs(outputs);
    if (seqLen > maxTokens) {
      throw new InputError(`one sequence of ${seqLen} tokens needs more memory than this device allows in one binding (max ${maxTokens} tokens)`);
    }
    const perChunk = Math.min(batch, Math.floor(maxTokens / seqLen));
    const parts: ForwardResult[] = [];
    for (let b0 = 0; b0 < batch; b0 += perChunk) {
      const n = Math.min(perChunk, batch - b0);
      const slice = (a: ArrayLike<number>) => Uint32Array.from(Array.prototype.slice.call(a, b0 * seqLen, (b0 + n) * seqLen) as number[]);
      const chunk: Chunk = {
        tokens: n * seqLen,
        ranges: paddedSequences(n, seqLen),
        inputIds: slice(inputIds),
        attentionMask: slice(attentionMask),
        tokenTypeIds: tokenTypeIds ? slice(tokenTypeIds) : null,
        outputs,
        exactCapacity: true,
      };
      parts.push(await this.runChunk(chunk, timings));
    }
    return concatParts(parts, outputs);
  }

  private async forwardPackedNow({ sequences, typeIds, outputs }: PackedRequest): Promise<ForwardResult> {
    validatePackedSequences(this.model.config, sequences, typeIds);
    const maxTokens = this.checkOutputs(outputs);
    // Greedy chunks of whole sequences that fit the device's binding limit (and its capacity rounding).
    const parts: ForwardResult[] = [];
    for (let s0 = 0; s0 < sequences.length; ) {
      let tokens = 0;
      let s1 = s0;
      while (s1 < sequences.length && packedTokenCapacity(tokens + sequences[s1].length) <= maxTokens) tokens += sequences[s1++].length;
      if (s1 === s0) throw new InputError(`sequence ${s0} of ${sequences[s0].length} tokens needs more memory than this device allows in one binding`);
      const ranges: SequenceRange[] = [];
      const inputIds = new Uint32Array(tokens);
      const tokenTypeIds = typeIds ? new Uint32Array(tokens) : null;
      let start = 0;
      for (let s = s0; s < s1; s++) {
        inputIds.set(sequences[s], start);
        tokenTypeIds?.set(typeIds![s], start);
        ranges.push({ start, length: sequences[s].length });
        start += sequences[s].length;
      }
      const chunk: Chunk = { tokens, ranges, inputIds, attentionMask: new Uint32Array(tokens).fill(1), tokenTypeIds, outputs, exactCapacity: false };
      parts.push(await this.runChunk(chunk));
      s0 = s1;
    }
    return concatParts(parts, outputs);
  }

  private entryFor(tokens: number, sequences: number, withLogits: boolean) {
    const key = `${tokens}/${sequences}${withLogits ? '+logits' : ''}`;
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
    entry = { plan: this.model.planForward(tokens, sequences, { logits: withLogits }), staging: new Map() };
    this.stats.plansBuilt++;
    this.plans.set(key, entry);
    return entry;
  }

  private async runChunk(chunk: Chunk, timings?: DispatchTiming[]): Promise<ForwardResult> {
    const device = this.model.device;
    const { tokens, ranges, outputs } = chunk;
    const capacity = chunk.exactCapacity ? tokens : packedTokenCapacity(tokens);
    const sequenceCapacity = chunk.exactCapacity ? ranges.length : Math.ceil(ranges.length / 8) * 8;
    const { plan, staging } = this.entryFor(capacity, sequenceCapacity, outputs.includes('logits'));

    // Rows past `tokens` are dummies: id 0, masked, in no sequence; attention never reads them.
    const write = (buffer: GPUBuffer, data: Uint32Array<ArrayBuffer>) => device.queue.writeBuffer(buffer, 0, data);
    const padTo = (data: Uint32Array<ArrayBuffer>) => {
      if (data.length === capacity) return data;
      const padded = new Uint32Array(capacity);
      padded.set(data);
      return padded;
    };
    write(plan.inputIds.buffer, padTo(chunk.inputIds));
    write(plan.attentionMask.buffer, padTo(chunk.attentionMask));
    write(plan.positions.buffer, tokenPositions(ranges, capacity, this.model.positionOffset));
    if (plan.tokenTypeIds) write(plan.tokenTypeIds.buffer, padTo(chunk.tokenTypeIds ?? new Uint32Array(tokens)));
    write(plan.attentionTiles.buffer, AttentionKernel.tileTable(ranges, plan.attentionTiles.shape[0]));
    write(plan.sequenceTable.buffer, PoolingKernel.sequenceTable(ranges, sequenceCapacity));

    const encoder = device.createCommandEncoder({ label: `forward ${tokens} tokens / ${ranges.length} sequences` });
    const timer = timings ? new PassTimer(device, plan.dispatches.length) : null;
    if (timer) {
      plan.dispatches.forEach((d, i) => {
        const pass = encoder.beginComputePass({ label: d.label, timestampWrites: timer.writes(i) });
        d.encode(pass);
        pass.end();
      });
      timer.resolve(encoder);
    } else {
      const pass = encoder.beginComputePass({ label: 'forward' });
      for (const d of plan.dispatches) d.encode(pass);
      pass.end();
    }
    const reads: [OutputName, GPUBuffer, number][] = [];
    for (const name of outputs) {
      const tensor = plan.outputs[name];
      if (!tensor) throw new NeoBERTError(`output ${name} is not produced by this model`);
      // Only the real rows come back: per-sequence outputs have one row per sequence.
      const rows = PER_SEQUENCE.has(name) || (name === 'logits' && this.model.headKind === 'classification') ? ranges.length : tokens;
      const bytes = (rows * tensor.shape.reduce((a, b) => a * b, 1) * 4) / tensor.shape[0];
      let buffer = staging.get(name);
      if (!buffer) {
        buffer = device.createBuffer({ label: `${name}.staging`, size: tensor.buffer.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        staging.set(name, buffer);
      }
      encoder.copyBufferToBuffer(tensor.buffer, 0, buffer, 0, bytes);
      reads.push([name, buffer, bytes]);
    }
    device.queue.submit([encoder.finish()]);
    this.stats.forwards++;
    this.stats.tokensComputed += capacity;

    await Promise.all(reads.map(([, buffer, bytes]) => buffer.mapAsync(GPUMapMode.READ, 0, bytes)));
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

  /** Reads one intermediate of the most recent plan by label (layer-by-layer debugging). */
  async readIntermediate(label: string): Promise<Float32Array> {
    const entry = [...this.plans.values()].at(-1);
    const tensor = entry?.plan.tensors.get(label);
    if (!tensor) throw new NeoBERTError(`no intermediate "${label}" in the last plan`);
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

function concatParts(parts: ForwardResult[], outputs: OutputName[]): ForwardResult {
  if (parts.length === 1) return parts[0];
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
