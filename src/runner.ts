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
// Both run on plans of a few capacities (packedTokenCapacity; sequences rounded up to 8): rows
// past the call's real B*L (or packed) tokens are dummies no attention tile or pooled row reads,
// so calls of any lengths reuse a handful of plans instead of building one per shape.
// MLM logits can be asked for a few token rows only (logitRows): the plan gathers those rows
// before the head, so fill-mask costs an embedding plus a few decoder rows at any length.
// Architectures that need more per-call tables than the standard ones (a length-dependent RoPE
// table, per-token adapter indices from a per-sequence input, ...) declare them in the plan as
// host inputs (ForwardPlan.hostInputs): before each forward the runner fills them from the
// batch's layout (BatchLayout: sequence ranges, padded length, the request's sequenceInputs).
import { InputError, EncoderError } from './errors';
import { readBuffer, withErrorScope } from './gpu';
import { AttentionKernel, PoolingKernel } from './kernels';
import type { BatchLayout, EncoderModel, ForwardPlan } from './models/types';
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
  /**
   * MLM heads: compute logits only for these token rows (indices into the B*L tokens); logits
   * then come back as (rows, V) in this order. Absent: every token (B*L, V).
   */
  logitRows?: ArrayLike<number>;
  /**
   * Per-sequence inputs by name, one integer per row (B), for models that read them
   * (EncoderModel.sequenceInputs, e.g. adapter_mask: the task adapter of each row).
   */
  sequenceInputs?: Record<string, ArrayLike<number>>;
}

export interface PackedRequest {
  /** Token ids of each sequence ([CLS] ... [SEP]), no padding. */
  sequences: ArrayLike<number>[];
  /** Segment ids of each sequence (same lengths); all 0 when absent. */
  typeIds?: ArrayLike<number>[];
  outputs: OutputName[];
  /** As ForwardRequest.logitRows, indices into the packed tokens (sequence after sequence). */
  logitRows?: ArrayLike<number>;
  /** As ForwardRequest.sequenceInputs: one integer per sequence. */
  sequenceInputs?: Record<string, ArrayLike<number>>;
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
  /** Plans destroyed (evicted from the cache or freed by destroy()). */
  plansDestroyed: number;
  forwards: number;
  /** Token rows run through the model, padding and capacity rounding included. */
  tokensComputed: number;
}

/**
 * The plan cache: least recently used plans go once it holds more than MAX_CACHED_PLANS, or more
 * than PLAN_CACHE_BYTES of buffers (the newest plan always stays). Small plans cost little, so
 * the handful of capacity classes a workload touches stay cached; a few long ones bound memory.
 */
const MAX_CACHED_PLANS = 16;
const PLAN_CACHE_BYTES = 256 * 1024 * 1024;
const PER_SEQUENCE: ReadonlySet<OutputName> = new Set(['pooledCls', 'pooledMean', 'pooledClsNormalized', 'pooledMeanNormalized', 'poolerOutput']);

/** One GPU forward's inputs, already laid out as the plan's tables expect. */
interface Chunk {
  tokens: number; // real tokens (rows past it are dummies up to the plan's capacity)
  capacity: number; // token rows of the plan
  ranges: SequenceRange[];
  inputIds: Uint32Array<ArrayBuffer>; // (tokens)
  attentionMask: Uint32Array<ArrayBuffer>; // (tokens)
  tokenTypeIds: Uint32Array<ArrayBuffer> | null; // (tokens), null = all 0
  outputs: OutputName[];
  /** Token rows (within the chunk) whose MLM logits are computed; null = every row. */
  logitRows: Uint32Array<ArrayBuffer> | null;
  /** BatchLayout.paddedLength of the request. */
  paddedLength: number;
  /** The request's sequenceInputs for this chunk's sequences. */
  sequenceInputs: Record<string, Int32Array>;
}

/** Logit rows of a call split over chunks: which rows each chunk computes, and where they go. */
interface LogitRowPlan {
  /** Per chunk: local row indices, and their positions in the caller's list. */
  local: Uint32Array<ArrayBuffer>[];
  order: number[][];
  total: number;
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

/** Logit rows a plan holds: the count rounded up (8, 16, 32, ...) so nearby counts share it. */
export function logitRowCapacity(rows: number): number {
  return Math.max(8, 2 ** Math.ceil(Math.log2(rows)));
}

export class Runner {
  private plans = new Map<string, { plan: ForwardPlan; staging: Map<OutputName, GPUBuffer> }>();
  private queue: Promise<void> = Promise.resolve();
  readonly stats: RunnerStats = { plansBuilt: 0, plansDestroyed: 0, forwards: 0, tokensComputed: 0 };

  /** Plans held now (each with its buffers and staging buffers); 0 after destroy(). */
  get cachedPlans(): number {
    return this.plans.size;
  }

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
        throw new EncoderError('profiling needs the timestamp-query feature, which this adapter does not offer');
      }
      const timings: DispatchTiming[] = [];
      const result = await this.forwardNow(request, timings);
      return { result, timings };
    });
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    // The queue keeps no reference to the result (a call's output is the caller's alone).
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Checks a request's sequenceInputs (names the model reads, one integer per sequence) and converts them. */
  private checkSequenceInputs(inputs: Record<string, ArrayLike<number>> | undefined, sequences: number, what: string): Record<string, Int32Array> {
    const out: Record<string, Int32Array> = {};
    if (inputs === undefined) return out;
    const known = this.model.sequenceInputs ?? [];
    for (const [name, values] of Object.entries(inputs)) {
      if (!known.includes(name)) {
        throw new InputError(`sequenceInputs: this model reads no per-sequence input ${JSON.stringify(name)}${known.length ? ` (it reads ${known.join(', ')})` : ' (it reads none)'}`);
      }
      if (!values || values.length !== sequences) throw new InputError(`sequenceInputs.${name}: expected one value per ${what} (${sequences}), got ${values?.length}`);
      for (let i = 0; i < values.length; i++) {
        if (!Number.isInteger(values[i]) || Math.abs(values[i]) > 2 ** 31 - 1) throw new InputError(`sequenceInputs.${name}[${i}] = ${values[i]} is not an integer`);
      }
      out[name] = Int32Array.from(values);
    }
    return out;
  }

  /** Checks the outputs (and logit rows) a request names; returns the most tokens one forward may hold. */
  private checkOutputs(outputs: OutputName[], logitRows: ArrayLike<number> | undefined, tokens: number): number {
    if (!Array.isArray(outputs) || outputs.length === 0) throw new InputError(`outputs must be a non-empty array of output names, got ${JSON.stringify(outputs)}`);
    for (const name of outputs) {
      if (!OUTPUT_NAMES.has(name)) throw new InputError(`outputs: unknown output ${JSON.stringify(name)} (one of ${[...OUTPUT_NAMES].join(', ')})`);
    }
    if (outputs.includes('logits') && this.model.headKind === 'none') {
      throw new InputError('logits requested, but this checkpoint has no MLM or classification head');
    }
    if (outputs.includes('poolerOutput') && !this.model.hasPooler) {
      throw new InputError('poolerOutput requested, but this checkpoint has no pooler');
    }
    if (logitRows !== undefined) {
      if (!outputs.includes('logits') || this.model.headKind !== 'mlm') throw new InputError('logitRows applies to the logits of an MLM head only');
      if (logitRows.length === 0) throw new InputError('logitRows is empty: name at least one token row, or omit it for every row');
      for (let i = 0; i < logitRows.length; i++) {
        const r = logitRows[i];
        if (!Number.isInteger(r) || r < 0 || r >= tokens) throw new InputError(`logitRows[${i}] = ${r} is not a token row in [0, ${tokens})`);
      }
      const most = this.model.maxTokensPerForward({ logits: true });
      if (logitRowCapacity(logitRows.length) > most) throw new InputError(`logitRows: ${logitRows.length} rows of logits exceed this device's binding limit (${most} rows)`);
    }
    return this.model.maxTokensPerForward({ logits: outputs.includes('logits') && logitRows === undefined });
  }

  private async forwardNow(request: ForwardRequest, timings?: DispatchTiming[]): Promise<ForwardResult> {
    const { inputIds, attentionMask, tokenTypeIds, batch, seqLen, outputs } = request;
    validatePaddedBatch(this.model.config, inputIds, attentionMask, tokenTypeIds, batch, seqLen);
    const maxTokens = this.checkOutputs(outputs, request.logitRows, batch * seqLen);
    const sequenceInputs = this.checkSequenceInputs(request.sequenceInputs, batch, 'row of the batch');
    if (seqLen > maxTokens) {
      throw new InputError(`one sequence of ${seqLen} tokens needs more memory than this device allows in one binding (max ${maxTokens} tokens)`);
    }
    const perChunk = Math.min(batch, Math.floor(maxTokens / seqLen));
    const chunkStarts: number[] = [];
    for (let b0 = 0; b0 < batch; b0 += perChunk) chunkStarts.push(b0 * seqLen);
    const rows = request.logitRows && splitLogitRows(request.logitRows, chunkStarts);
    const parts: ForwardResult[] = [];
    for (let c = 0, b0 = 0; b0 < batch; b0 += perChunk, c++) {
      const n = Math.min(perChunk, batch - b0);
      const slice = (a: ArrayLike<number>) => Uint32Array.from(Array.prototype.slice.call(a, b0 * seqLen, (b0 + n) * seqLen) as number[]);
      const chunk: Chunk = {
        tokens: n * seqLen,
        capacity: roundedCapacity(n * seqLen, maxTokens),
        ranges: paddedSequences(n, seqLen),
        inputIds: slice(inputIds),
        attentionMask: slice(attentionMask),
        tokenTypeIds: tokenTypeIds ? slice(tokenTypeIds) : null,
        outputs,
        logitRows: rows ? rows.local[c] : null,
        paddedLength: seqLen,
        sequenceInputs: sliceInputs(sequenceInputs, b0, b0 + n),
      };
      parts.push(await this.runChunk(chunk, timings));
    }
    return concatParts(parts, outputs, rows);
  }

  private async forwardPackedNow({ sequences, typeIds, outputs, logitRows, sequenceInputs: given }: PackedRequest): Promise<ForwardResult> {
    validatePackedSequences(this.model.config, sequences, typeIds);
    const total = sequences.reduce((s, ids) => s + ids.length, 0);
    const maxTokens = this.checkOutputs(outputs, logitRows, total);
    const sequenceInputs = this.checkSequenceInputs(given, sequences.length, 'sequence');
    const paddedLength = sequences.reduce((m, ids) => Math.max(m, ids.length), 0);
    // Greedy chunks of whole sequences that fit the device's binding limit.
    const bounds: [number, number, number][] = []; // first sequence, end sequence, tokens
    for (let s0 = 0; s0 < sequences.length; ) {
      let tokens = 0;
      let s1 = s0;
      while (s1 < sequences.length && tokens + sequences[s1].length <= maxTokens) tokens += sequences[s1++].length;
      if (s1 === s0) throw new InputError(`sequence ${s0} of ${sequences[s0].length} tokens needs more memory than this device allows in one binding`);
      bounds.push([s0, s1, tokens]);
      s0 = s1;
    }
    const chunkStarts: number[] = [];
    bounds.reduce((start, [, , tokens]) => (chunkStarts.push(start), start + tokens), 0);
    const rows = logitRows && splitLogitRows(logitRows, chunkStarts);
    const parts: ForwardResult[] = [];
    for (const [c, [s0, s1, tokens]] of bounds.entries()) {
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
      const chunk: Chunk = {
        tokens,
        capacity: roundedCapacity(tokens, maxTokens),
        ranges,
        inputIds,
        attentionMask: new Uint32Array(tokens).fill(1),
        tokenTypeIds,
        outputs,
        logitRows: rows ? rows.local[c] : null,
        paddedLength,
        sequenceInputs: sliceInputs(sequenceInputs, s0, s1),
      };
      parts.push(await this.runChunk(chunk));
    }
    return concatParts(parts, outputs, rows);
  }

  private async entryFor(tokens: number, sequences: number, withLogits: boolean, logitRows: number) {
    const key = `${tokens}/${sequences}${withLogits ? '+logits' : ''}${logitRows ? `@${logitRows}` : ''}`;
    let entry = this.plans.get(key);
    if (entry) {
      // Refresh LRU position.
      this.plans.delete(key);
      this.plans.set(key, entry);
      return entry;
    }
    const options = { logits: withLogits, ...(logitRows ? { logitRows } : {}) };
    let plan: ForwardPlan | null = null;
    try {
      await withErrorScope(this.model.device, `building a forward plan for ${tokens} tokens in ${sequences} sequences${withLogits ? ' with logits' : ''}`, () => {
        plan = this.model.planForward(tokens, sequences, options);
      });
    } catch (error) {
      (plan as ForwardPlan | null)?.destroy();
      throw error;
    }
    entry = { plan: plan!, staging: new Map() };
    this.stats.plansBuilt++;
    this.plans.set(key, entry);
    const bytes = () => [...this.plans.values()].reduce((sum, e) => sum + planBytes(e), 0);
    while (this.plans.size > 1 && (this.plans.size > MAX_CACHED_PLANS || bytes() > PLAN_CACHE_BYTES)) {
      const [oldestKey, oldest] = this.plans.entries().next().value!;
      oldest.plan.destroy();
      for (const s of oldest.staging.values()) s.destroy();
      this.plans.delete(oldestKey);
      this.stats.plansDestroyed++;
    }
    return entry;
  }

  private async runChunk(chunk: Chunk, timings?: DispatchTiming[]): Promise<ForwardResult> {
    const device = this.model.device;
    const { tokens, ranges, capacity } = chunk;
    // A chunk none of whose rows is asked for computes no logits (and reads back none).
    const noLogitRows = chunk.logitRows !== null && chunk.logitRows.length === 0;
    const outputs = noLogitRows ? chunk.outputs.filter((o) => o !== 'logits') : chunk.outputs;
    const sequenceCapacity = Math.ceil(ranges.length / 8) * 8;
    const rowCapacity = chunk.logitRows && !noLogitRows ? logitRowCapacity(chunk.logitRows.length) : 0;
    const { plan, staging } = await this.entryFor(capacity, sequenceCapacity, outputs.includes('logits'), rowCapacity);

    // Rows past `tokens` are dummies: id 0, masked, in no sequence; attention never reads them.
    const write = (buffer: GPUBuffer, data: Uint32Array<ArrayBuffer> | Float32Array<ArrayBuffer>) => device.queue.writeBuffer(buffer, 0, data);
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
    if (rowCapacity) {
      if (!plan.logitRows) throw new EncoderError('this model does not compute logits for chosen rows (its plan has no logitRows table)');
      const rows = new Uint32Array(rowCapacity);
      rows.set(chunk.logitRows!);
      write(plan.logitRows.buffer, rows);
    }
    if (plan.hostInputs?.length) {
      const layout: BatchLayout = { ranges, tokens, capacity, paddedLength: chunk.paddedLength, sequenceInputs: chunk.sequenceInputs };
      for (const { tensor, fill } of plan.hostInputs) {
        const data = fill(layout);
        if (data.byteLength > tensor.buffer.size) throw new EncoderError(`host input ${tensor.label}: ${data.length} values do not fit its [${tensor.shape}] buffer`);
        write(tensor.buffer, data);
      }
    }

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
      if (!tensor) throw new EncoderError(`output ${name} is not produced by this model`);
      // Only the real rows come back: per-sequence outputs have one row per sequence.
      const rows =
        PER_SEQUENCE.has(name) || (name === 'logits' && this.model.headKind === 'classification')
          ? ranges.length
          : name === 'logits' && rowCapacity
            ? chunk.logitRows!.length
            : tokens;
      const bytes = (rows * tensor.shape.reduce((a, b) => a * b, 1) * 4) / tensor.shape[0];
      let buffer = staging.get(name);
      if (!buffer) {
        const size = tensor.buffer.size;
        buffer = await withErrorScope(device, `a ${size}-byte readback buffer for ${name}`, () =>
          device.createBuffer({ label: `${name}.staging`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
        );
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
    if (noLogitRows) result.logits = new Float32Array(0);
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
    if (!tensor) throw new EncoderError(`no intermediate "${label}" in the last plan`);
    const bytes = tensor.shape.reduce((a, b) => a * b, 1) * 4;
    return new Float32Array(await readBuffer(this.model.device, tensor.buffer, bytes));
  }

  destroy(): void {
    for (const { plan, staging } of this.plans.values()) {
      plan.destroy();
      for (const s of staging.values()) s.destroy();
      this.stats.plansDestroyed++;
    }
    this.plans.clear();
  }
}

/** GPU bytes a cached plan holds: its tensors and staging buffers. */
function planBytes({ plan, staging }: { plan: ForwardPlan; staging: Map<OutputName, GPUBuffer> }): number {
  let bytes = 0;
  for (const t of plan.tensors.values()) bytes += t.buffer.size;
  for (const s of staging.values()) bytes += s.size;
  return bytes;
}

const OUTPUT_NAMES: ReadonlySet<string> = new Set<OutputName>([...PER_SEQUENCE, 'lastHiddenState', 'logits']);

/** The per-sequence inputs of sequences [s0, s1). */
function sliceInputs(inputs: Record<string, Int32Array>, s0: number, s1: number): Record<string, Int32Array> {
  return Object.fromEntries(Object.entries(inputs).map(([name, values]) => [name, values.subarray(s0, s1)]));
}

/** Token rows a chunk's plan holds: its capacity class, clamped to the device limit. */
function roundedCapacity(tokens: number, maxTokens: number): number {
  return Math.min(packedTokenCapacity(tokens), Math.max(tokens, maxTokens));
}

/** Splits logit rows (token indices, already checked) over the chunks starting at `starts`. */
function splitLogitRows(rows: ArrayLike<number>, starts: number[]): LogitRowPlan {
  const local: number[][] = starts.map(() => []);
  const order: number[][] = starts.map(() => []);
  for (let i = 0; i < rows.length; i++) {
    let c = starts.length - 1;
    while (starts[c] > rows[i]) c--;
    local[c].push(rows[i] - starts[c]);
    order[c].push(i);
  }
  return { local: local.map((l) => Uint32Array.from(l)), order, total: rows.length };
}

function concatParts(parts: ForwardResult[], outputs: OutputName[], logitRows?: LogitRowPlan): ForwardResult {
  if (logitRows && outputs.includes('logits')) {
    // Each chunk computed some of the rows: put them back in the caller's order.
    const V = parts.reduce((v, p, c) => (logitRows.order[c].length ? p.logits!.length / logitRows.order[c].length : v), 0);
    const logits = new Float32Array(logitRows.total * V);
    parts.forEach((p, c) => logitRows.order[c].forEach((i, j) => logits.set(p.logits!.subarray(j * V, (j + 1) * V), i * V)));
    const rest = concatParts(parts, outputs.filter((o) => o !== 'logits'));
    return { ...rest, logits };
  }
  if (parts.length === 1) {
    const only: ForwardResult = {};
    for (const name of outputs) only[name] = parts[0][name];
    return only;
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
