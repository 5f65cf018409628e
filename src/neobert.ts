// The engine as a user meets it: a loaded checkpoint on a GPU device, its tokenizer, and the
// task calls (embed, fillMask, classify, forward). Browser-safe; Node-only helpers (folders,
// files) live in src/node/ and are reached through src/source.ts.
//
// Every call runs alone: calls on one model are queued (this.exclusive), so concurrent callers
// never interleave batches, and the timings a call reports are its own.
import { loadCheckpoint, type CheckpointSource, type LoadedCheckpoint, type ProgressFn } from './checkpoint';
import type { NeoBERTConfig } from './config';
import { NeoBERTError } from './errors';
import { createGPU, type AdapterDescription, type GPUContext } from './gpu';
import { InputError, NeoBERTModel } from './model';
import { Runner, packedTokenCapacity, type ForwardRequest, type ForwardResult, type OutputName } from './runner';
import { resolveSource, type ModelSource } from './source';
import { NeoBERTTokenizer } from './tokenizer';

export type Pooling = 'cls' | 'mean';
/** Compute precision. 'fp32' is accepted as the transformers.js spelling of 'f32'. */
export type DType = 'f32' | 'fp32' | 'f16' | 'fp16';
/** A sequence of token ids used as given: include [CLS] ... [SEP] yourself. */
export type TokenIds = ArrayLike<number>;
/** Texts (tokenized with the checkpoint's tokenizer) or token id sequences; one kind per call. */
export type Inputs = readonly string[] | readonly TokenIds[];

/** The model was disposed; load it again. */
export class ModelDisposedError extends NeoBERTError {}
/** The GPU device was lost (driver reset, GPU removed, destroyed); load the model again. */
export class DeviceLostError extends NeoBERTError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

export interface LoadOptions {
  /** Matmul weight precision: 'f32' (default) or 'f16' (f16 weights, f32 arithmetic and accumulation; any WebGPU device). */
  dtype?: DType;
  /**
   * 'webgpu' (default, the only backend), or a GPUDevice your page already uses (the model then
   * shares it and dispose() leaves it alive).
   */
  device?: 'webgpu' | GPUDevice;
  /** Reuse a GPUContext from createGPU() (several models on one device, tests). Not owned. */
  gpu?: GPUContext;
  /** Download / read progress per file. */
  onProgress?: ProgressFn;
  /**
   * Cache Storage bucket for URL downloads (browser pages and workers), keyed by URL: a second
   * visit reads the files from disk. Default 'neobert-webgpu-v1'; false downloads every time.
   */
  cache?: string | false;
  /**
   * A tokenizer for a checkpoint that ships none (or to replace its own): a NeoBERTTokenizer,
   * or the text of a vocab.txt / tokenizer.json.
   */
  tokenizer?: NeoBERTTokenizer | { vocabTxt?: string; tokenizerJson?: string };
}

/** Where the time of one call went. Stages are measured on the host around each step. */
export interface RunTimings {
  /** Waiting behind earlier calls on the same model. Not part of totalMs. */
  queuedMs: number;
  /** Text to token ids (0 for token id inputs). */
  tokenizeMs: number;
  /** Upload of the ids, the GPU forward, and the wait until its outputs are mapped for reading. */
  gpuMs: number;
  /** Copying the mapped outputs into the results (plus softmax and top-k for fillMask / classify). */
  readbackMs: number;
  /** tokenizeMs + gpuMs + readbackMs, measured end to end. */
  totalMs: number;
  /** Sequences run. */
  sequences: number;
  /** Real tokens, [CLS] and [SEP] included. */
  tokens: number;
  /** Token rows the GPU computed: the real tokens plus the rounding of each forward's capacity. */
  computedTokens: number;
  /** GPU forwards. */
  batches: number;
  /** tokens / totalMs. */
  tokensPerSecond: number;
}

interface CallOptions {
  /** Receives this call's timings just before its promise resolves. */
  onTimings?: (timings: RunTimings) => void;
}

interface TokenOptions {
  /** Tokens per text including [CLS]/[SEP]; default and upper bound: the model's max_length. */
  maxLength?: number;
  /** Cut texts over maxLength (default); false makes them an error (TokenLimitError). */
  truncation?: boolean;
}

interface BatchOptions extends TokenOptions {
  /** Sequences per GPU forward (default 32). Inputs are sorted by length before batching. */
  batchSize?: number;
  /** Called after each GPU batch with the number of inputs done. */
  onBatch?: (done: number, total: number) => void;
}

export interface EmbedOptions extends BatchOptions, CallOptions {
  /** 'cls' (default, the model card's choice) or 'mean' (masked mean over tokens, the paper's MTEB runs). */
  pooling?: Pooling;
  /** L2-normalise each embedding (then a dot product is the cosine similarity). */
  normalize?: boolean;
}

/** Embeddings as one row-major [rows, cols] matrix (rows in input order). */
export interface EmbeddingMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export interface FillMaskOptions extends TokenOptions, CallOptions {
  /** Predictions per [MASK] (default 5). */
  topK?: number;
  /** Predict at these token positions instead of at the [MASK] tokens (0 is [CLS]). */
  positions?: number[];
}

export interface FillMaskPrediction {
  /** Vocabulary entry ("##" marks a word piece); "#<id>" when the checkpoint has no tokenizer. */
  token: string;
  id: number;
  /** Softmax probability over the whole vocabulary. */
  score: number;
  /** The input with this prediction in place of the mask; null without a tokenizer. */
  sequence: string | null;
}

export interface ClassifyOptions extends BatchOptions, CallOptions {
  /** Keep the K best labels per input (default: all, best first). */
  topK?: number;
}

export interface LabelScore {
  /** config.json id2label name, or LABEL_<id>. */
  label: string;
  id: number;
  /** Softmax probability over the labels. */
  score: number;
  logit: number;
}

export interface ModelInfo {
  label: string;
  config: NeoBERTConfig;
  parameterCount: number;
  dtypes: Record<string, number>;
  head: 'none' | 'mlm' | 'classification';
  /** Class names by index (classification head only). */
  labels: string[] | null;
  adapter: AdapterDescription;
  tokenizer: 'tokenizer.json' | 'vocab.txt' | 'given' | null;
}

/** bert-base-uncased [MASK], used for token id inputs when the checkpoint has no tokenizer. */
const BERT_MASK_ID = 103;

const now = () => performance.now();

/** Accumulates one call's timings. */
class CallTimer {
  readonly t: RunTimings;
  private readonly start = now();
  constructor(queuedMs: number) {
    this.t = { queuedMs, tokenizeMs: 0, gpuMs: 0, readbackMs: 0, totalMs: 0, sequences: 0, tokens: 0, computedTokens: 0, batches: 0, tokensPerSecond: 0 };
  }
  time<T>(stage: 'tokenizeMs' | 'gpuMs' | 'readbackMs', body: () => T): T {
    const t0 = now();
    try {
      return body();
    } finally {
      this.t[stage] += now() - t0;
    }
  }
  async timeAsync<T>(stage: 'gpuMs', body: () => Promise<T>): Promise<T> {
    const t0 = now();
    try {
      return await body();
    } finally {
      this.t[stage] += now() - t0;
    }
  }
  finish(): RunTimings {
    this.t.totalMs = now() - this.start;
    this.t.tokensPerSecond = this.t.totalMs > 0 ? (this.t.tokens * 1000) / this.t.totalMs : 0;
    return { ...this.t };
  }
}

function checkPositiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new NeoBERTError(`${what} must be a positive integer, got ${String(value)}`);
  return value;
}

function softmaxInPlace(values: Float64Array): void {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] = Math.exp(values[i] - max);
  for (let i = 0; i < values.length; i++) values[i] /= sum;
}

/** Indices of the k largest values, largest first (k is small: insertion into a sorted list). */
function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (best.length === k && v <= values[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && values[best[at - 1]] < v) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

function contextFromDevice(device: GPUDevice): GPUContext {
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

export class NeoBERT {
  private disposed = false;
  private disposing: Promise<void> | null = null;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly checkpoint: Omit<LoadedCheckpoint, 'weights'>,
    readonly gpu: GPUContext,
    private readonly ownsGPU: boolean,
    readonly model: NeoBERTModel,
    readonly runner: Runner,
    private readonly tokenizerOrNull: NeoBERTTokenizer | null,
    private readonly tokenizerKind: ModelInfo['tokenizer'],
  ) {
    gpu.lost.then((info) => {
      if (!this.disposed) this.lostInfo = info;
    });
  }

  /**
   * Loads a checkpoint (see ModelSource: 'bundled', a Hub-style URL, a Node path, Files, or a
   * CheckpointSource), uploads its weights and compiles the kernels.
   */
  static async load(source: ModelSource, options: LoadOptions = {}): Promise<NeoBERT> {
    if (options.dtype && !['f32', 'fp32', 'f16', 'fp16'].includes(options.dtype)) {
      throw new NeoBERTError(`dtype "${options.dtype}" is not supported; use "f32" (default) or "f16"`);
    }
    const device = options.device ?? 'webgpu';
    if (typeof device === 'string' && device !== 'webgpu') {
      throw new NeoBERTError(`device "${device}" is not supported: this engine runs on WebGPU only ("webgpu", or pass a GPUDevice)`);
    }
    const checkpointSource: CheckpointSource = await resolveSource(source, { cache: options.cache });
    const loaded = await loadCheckpoint(checkpointSource, { onProgress: options.onProgress });
    const { tokenizerFiles } = loaded;
    const tokenizerOptions = { maxLength: loaded.config.maxLength };
    let tokenizer: NeoBERTTokenizer | null = null;
    let tokenizerKind: ModelInfo['tokenizer'] = null;
    if (options.tokenizer instanceof NeoBERTTokenizer) {
      [tokenizer, tokenizerKind] = [options.tokenizer, 'given'];
    } else if (options.tokenizer) {
      const { vocabTxt = null, tokenizerJson = null } = options.tokenizer;
      [tokenizer, tokenizerKind] = [NeoBERTTokenizer.fromFiles({ vocabTxt, tokenizerJson }, tokenizerOptions), 'given'];
    } else if (tokenizerFiles.tokenizerJson || tokenizerFiles.vocabTxt) {
      tokenizer = NeoBERTTokenizer.fromFiles(tokenizerFiles, tokenizerOptions);
      tokenizerKind = tokenizerFiles.tokenizerJson ? 'tokenizer.json' : 'vocab.txt';
    }
    const ownsGPU = !options.gpu && typeof device === 'string';
    const gpu = options.gpu ?? (typeof device === 'string' ? await createGPU() : contextFromDevice(device));
    try {
      const model = await NeoBERTModel.create(gpu.device, loaded.config, loaded.weights, {
        dtype: options.dtype === 'f16' || options.dtype === 'fp16' ? 'f16' : 'f32',
      });
      const { weights: _weights, ...rest } = loaded; // host copies are not kept: the GPU has them
      return new NeoBERT(rest, gpu, ownsGPU, model, new Runner(model), tokenizer, tokenizerKind);
    } catch (e) {
      if (ownsGPU) gpu.destroy();
      throw e;
    }
  }

  get config(): NeoBERTConfig {
    return this.checkpoint.config;
  }

  get tokenizer(): NeoBERTTokenizer {
    if (!this.tokenizerOrNull) {
      throw new NeoBERTError(
        `${this.checkpoint.label} has no vocab.txt or tokenizer.json: pass token ids instead of text, or a tokenizer in the load options`,
      );
    }
    return this.tokenizerOrNull;
  }

  get hasTokenizer(): boolean {
    return this.tokenizerOrNull !== null;
  }

  get head(): ModelInfo['head'] {
    return this.model.headKind;
  }

  /** Class names by index for a classification checkpoint: config id2label, else LABEL_<i>. */
  get labels(): string[] | null {
    const n = this.config.numLabels;
    if (this.model.headKind !== 'classification' || n === null) return null;
    return this.config.id2label ?? Array.from({ length: n }, (_, i) => `LABEL_${i}`);
  }

  info(): ModelInfo {
    return {
      label: this.checkpoint.label,
      config: this.config,
      parameterCount: this.checkpoint.parameterCount,
      dtypes: this.checkpoint.dtypes,
      head: this.model.headKind,
      labels: this.labels,
      adapter: this.gpu.adapter,
      tokenizer: this.tokenizerKind,
    };
  }

  /** Raw forward on token ids ([B, L] right-padded); reads back only the outputs named. */
  forward(request: ForwardRequest): Promise<ForwardResult> {
    return this.exclusive(() => this.runner.forward(request));
  }

  /**
   * One embedding per input, in input order (each its own Float32Array of hiddenSize values).
   * Inputs are sorted by length and run batchSize at a time, packed without padding.
   */
  async embed(inputs: Inputs, options: EmbedOptions = {}): Promise<Float32Array[]> {
    const { data, rows, cols } = await this.embedMatrix(inputs, options);
    return Array.from({ length: rows }, (_, i) => data.slice(i * cols, (i + 1) * cols));
  }

  /** The same embeddings as embed(), as one row-major [inputs, hiddenSize] matrix. */
  embedMatrix(inputs: Inputs, options: EmbedOptions = {}): Promise<EmbeddingMatrix> {
    return this.exclusive(async (timer) => {
      const { pooling = 'cls', normalize = false } = options;
      if (pooling !== 'cls' && pooling !== 'mean') throw new NeoBERTError(`embed: pooling must be "cls" or "mean", got "${pooling}"`);
      const output = `${pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${normalize ? 'Normalized' : ''}` as OutputName;
      const rows = this.encode('embed', inputs, options, timer);
      const C = this.config.hiddenSize;
      const data = new Float32Array(rows.length * C);
      await this.runBatches(rows, output, options, timer, (index, out, row) => data.set(out.subarray(row * C, (row + 1) * C), index * C));
      return { data, rows: rows.length, cols: C };
    }, options.onTimings);
  }

  /**
   * Predictions for each [MASK] of one text (or token id sequence), best first, in the order the
   * masks appear. Needs the MLM head (NeoBERTLMHead checkpoints, e.g. chandar-lab/NeoBERT).
   */
  fillMask(input: string | TokenIds, options: FillMaskOptions = {}): Promise<FillMaskPrediction[][]> {
    return this.exclusive(async (timer) => {
      if (this.model.headKind !== 'mlm') {
        throw new NeoBERTError(
          `fillMask needs the MLM head (decoder.weight); ${this.checkpoint.label} has ${this.model.headKind === 'none' ? 'no head' : 'a classification head'}`,
        );
      }
      const V = this.config.vocabSize;
      const topK = Math.min(checkPositiveInt(options.topK ?? 5, 'fillMask: topK'), V);
      const [ids] = this.encode('fillMask', [input] as Inputs, options, timer);
      const maskId = this.tokenizerOrNull?.maskId ?? BERT_MASK_ID;
      const maskToken = this.tokenizerOrNull?.maskToken ?? '[MASK]';
      let positions: number[];
      if (options.positions) {
        positions = options.positions;
        for (const p of positions) {
          if (!Number.isInteger(p) || p < 0 || p >= ids.length) throw new InputError(`fillMask: position ${p} is outside the ${ids.length} tokens`);
        }
      } else {
        positions = ids.flatMap((id, i) => (id === maskId ? [i] : []));
      }
      if (positions.length === 0) {
        throw new InputError(`fillMask: the input has no ${maskToken} token (write ${maskToken} where a word should be predicted)`);
      }
      const out = await this.timedForward(timer, [ids], 'logits'); // logits (L, V)
      return timer.time('readbackMs', () => {
        const logits = out.logits!;
        const probs = new Float64Array(V);
        return positions.map((p) => {
          probs.set(logits.subarray(p * V, (p + 1) * V));
          softmaxInPlace(probs);
          return topKIndices(probs, topK).map((id) => ({
            token: this.tokenizerOrNull?.idToToken(id) ?? `#${id}`,
            id,
            score: probs[id],
            sequence: this.filledSequence(ids, p, id),
          }));
        });
      });
    }, options.onTimings);
  }

  /**
   * Label probabilities per input (softmax over the labels), best first. Needs a classification
   * head (NeoBERTForSequenceClassification checkpoints).
   */
  classify(inputs: Inputs, options: ClassifyOptions = {}): Promise<LabelScore[][]> {
    return this.exclusive(async (timer) => {
      const labels = this.labels;
      if (!labels) {
        throw new NeoBERTError(
          `classify needs a classification head (NeoBERTForSequenceClassification); ${this.checkpoint.label} has ${this.model.headKind === 'none' ? 'no head' : 'an MLM head'}`,
        );
      }
      const topK = Math.min(checkPositiveInt(options.topK ?? labels.length, 'classify: topK'), labels.length);
      const rows = this.encode('classify', inputs, options, timer);
      const n = labels.length;
      const result: LabelScore[][] = new Array(rows.length);
      await this.runBatches(rows, 'logits', options, timer, (index, out, row) => {
        const logits = Float64Array.from(out.subarray(row * n, (row + 1) * n));
        const probs = Float64Array.from(logits);
        softmaxInPlace(probs);
        result[index] = topKIndices(probs, topK).map((id) => ({ label: labels[id], id, score: probs[id], logit: logits[id] }));
      });
      return result;
    }, options.onTimings);
  }

  /**
   * Frees the model's GPU buffers (and the device when load() created it) once the call in
   * flight, if any, has finished. Later calls reject with ModelDisposedError.
   */
  dispose(): Promise<void> {
    if (this.disposing) return this.disposing;
    this.disposed = true;
    this.disposing = this.queue.then(() => {
      this.runner.destroy();
      this.model.destroy();
      if (this.ownsGPU) this.gpu.destroy();
    });
    return this.disposing;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  // ---------------------------------------------------------------------------------------------

  private lostError(): DeviceLostError {
    const info = this.lostInfo!;
    const detail = info.message ? `: ${info.message}` : '';
    return new DeviceLostError(`the GPU device was lost (${info.reason ?? 'unknown'}${detail}); load the model again`, String(info.reason ?? 'unknown'));
  }

  /** Runs `body` after every earlier call on this model has settled, with a timer for it. */
  private exclusive<T>(body: (timer: CallTimer) => Promise<T>, onTimings?: (t: RunTimings) => void): Promise<T> {
    // Calls made before dispose() still run (dispose waits for them); later ones are refused.
    if (this.disposed) return Promise.reject(new ModelDisposedError('this model was disposed; load it again'));
    const enqueued = now();
    const run = this.queue.then(async () => {
      if (this.lostInfo) throw this.lostError();
      const timer = new CallTimer(now() - enqueued);
      let result: T;
      try {
        result = await body(timer);
      } catch (error) {
        // A lost device makes the call in flight fail with a GPU error; say what happened.
        if (!this.lostInfo && !(error instanceof NeoBERTError || error instanceof RangeError || error instanceof TypeError)) {
          await Promise.race([this.gpu.lost, new Promise((resolve) => setTimeout(resolve, 0))]);
        }
        if (this.lostInfo && !this.disposed) throw this.lostError();
        throw error;
      }
      onTimings?.(timer.finish());
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Texts (tokenized) or token id sequences, each as a plain id array, every id checked. */
  private encode(what: string, inputs: Inputs, options: TokenOptions, timer: CallTimer): number[][] {
    if (!Array.isArray(inputs) || inputs.length === 0) {
      throw new InputError(`${what}: expected a non-empty array of texts or token id arrays, got ${Array.isArray(inputs) ? 'an empty array' : typeof inputs}`);
    }
    const V = this.config.vocabSize;
    if (inputs.every((x) => typeof x === 'string')) {
      const tokenizer = this.tokenizer;
      const rows = timer.time('tokenizeMs', () => tokenizer.encodeEach(inputs as string[], options).ids);
      // A tokenizer given at load may know more words than the model.
      rows.forEach((ids, i) => {
        const j = ids.findIndex((id) => id >= V);
        if (j >= 0) throw new InputError(`${what}: text ${i} has the token ${JSON.stringify(tokenizer.idToToken(ids[j]))} (id ${ids[j]}), outside this model's vocabulary of ${V}`);
      });
      return rows;
    }
    const limit = options.maxLength ?? this.config.maxLength;
    return (inputs as readonly unknown[]).map((row, i) => {
      if (typeof row === 'string' || !(Array.isArray(row) || ArrayBuffer.isView(row))) {
        throw new InputError(`${what}: input ${i} is ${typeof row === 'string' ? 'a string' : typeof row}; pass only texts or only token id arrays`);
      }
      const ids = Array.from(row as ArrayLike<number>);
      if (ids.length === 0) throw new InputError(`${what}: input ${i} has no token ids`);
      if (ids.length > limit) throw new InputError(`${what}: input ${i} has ${ids.length} token ids, over the limit of ${limit}`);
      ids.forEach((id, j) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new InputError(`${what}: input ${i} token ${j} = ${id} is not a token id in [0, ${V})`);
      });
      return ids;
    });
  }

  /**
   * Sorts `rows` by length, runs them `batchSize` sequences per forward (packed back to back, or
   * padded when that is cheaper: see timedForward), and hands each row's output to
   * `take(inputIndex, output, rowInBatch)`.
   */
  private async runBatches(
    rows: number[][],
    output: OutputName,
    options: BatchOptions,
    timer: CallTimer,
    take: (index: number, out: Float32Array, row: number) => void,
  ): Promise<void> {
    const batchSize = checkPositiveInt(options.batchSize ?? 32, 'batchSize');
    const order = rows.map((_, i) => i).sort((a, b) => rows[a].length - rows[b].length);
    for (let start = 0; start < order.length; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      const sequences = indices.map((i) => rows[i]);
      const out = await this.timedForward(timer, sequences, output);
      timer.time('readbackMs', () => indices.forEach((index, row) => take(index, out[output]!, row)));
      options.onBatch?.(Math.min(start + batchSize, order.length), order.length);
    }
  }

  /**
   * One GPU forward of `sequences`, with its GPU time and token counts added to the call's
   * timings. Packed (no padding, Runner.forwardPacked) unless a padded [B, L] batch computes
   * fewer rows, as for one short query, where the packed plan's capacity rounding would dominate.
   * Both give the same results; per-sequence outputs come back in the order of `sequences`.
   */
  private async timedForward(timer: CallTimer, sequences: number[][], output: OutputName): Promise<ForwardResult> {
    const lengths = sequences.map((ids) => ids.length);
    const tokens = lengths.reduce((a, b) => a + b, 0);
    const seqLen = Math.max(...lengths);
    const batch = sequences.length;
    const computedBefore = this.runner.stats.tokensComputed;
    const out = await timer.timeAsync('gpuMs', () => {
      if (batch * seqLen > packedTokenCapacity(tokens) || (output === 'logits' && this.model.headKind === 'mlm' && batch > 1)) {
        return this.runner.forwardPacked({ sequences, outputs: [output] });
      }
      const padId = this.tokenizerOrNull?.padId ?? this.config.padTokenId;
      const inputIds = new Int32Array(batch * seqLen).fill(padId);
      const attentionMask = new Int32Array(batch * seqLen);
      sequences.forEach((ids, row) => {
        inputIds.set(ids, row * seqLen);
        attentionMask.fill(1, row * seqLen, row * seqLen + ids.length);
      });
      return this.runner.forward({ inputIds, attentionMask, batch, seqLen, outputs: [output] });
    });
    timer.t.sequences += batch;
    timer.t.tokens += tokens;
    timer.t.computedTokens += this.runner.stats.tokensComputed - computedBefore;
    timer.t.batches++;
    return out;
  }

  /** The input with `id` at `position`, decoded without [CLS]/[SEP]/padding; other masks stay. */
  private filledSequence(ids: number[], position: number, id: number): string | null {
    const tokenizer = this.tokenizerOrNull;
    if (!tokenizer) return null;
    const edited = ids.slice();
    edited[position] = id;
    const drop = new Set([tokenizer.clsId, tokenizer.sepId, tokenizer.padId]);
    return tokenizer.decode(edited.filter((x, i) => i === position || !drop.has(x)));
  }
}
