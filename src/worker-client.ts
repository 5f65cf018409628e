// NeoBERT in a Web Worker: the same async methods as NeoBERT, run off the page's main thread so
// the page stays responsive while shaders compile and batches run. Results come back as
// transferred Float32Arrays (no copy). Calls are queued in the worker exactly as on NeoBERT.
import type { EncoderConfig } from './models/types';
import { EncoderError } from './errors';
import type {
  ClassifyInputs,
  ClassifyOptions,
  PredictOptions,
  RankOptions,
  RankResult,
  GuardDecision,
  GuardOptions,
  EmbedOptions,
  EmbeddingMatrix,
  FillMaskOptions,
  FillMaskPrediction,
  Inputs,
  LabelScore,
  LoadOptions,
  ModelInfo,
  RunTimings,
  TokenIds,
} from './encoder';
import { ModelDisposedError } from './encoder';
import type { ForwardRequest, ForwardResult } from './runner';
import type { TokenizerFiles } from './checkpoint';
import { baseHref, bundledModelPath, isCheckpointSource, isHubModelId, type ModelSource } from './source';
import { deserializeError, type CallMessage, type ReplyMessage, type WorkerEndpoint, type WorkerMethod } from './worker-protocol';

export type { WorkerEndpoint } from './worker-protocol';

export interface WorkerLoadOptions extends Pick<LoadOptions, 'dtype' | 'cache' | 'onProgress' | 'revision'> {
  /** A tokenizer for a checkpoint without one: the text of its files (tokenizer.json, vocab.txt, ...). */
  tokenizer?: Partial<TokenizerFiles>;
  /**
   * The worker to run in. Default: a new module worker from src/worker.ts, terminated by
   * dispose(). Pass your own Worker (a module worker running src/worker.ts) or any
   * MessagePort-like endpoint served by serveEncoder; those are left running.
   */
  worker?: WorkerEndpoint;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: LoadOptions['onProgress'];
  onBatch?: (done: number, total: number) => void;
  onTimings?: (t: RunTimings) => void;
}

function defaultWorker(): Worker {
  if (typeof Worker === 'undefined') {
    throw new EncoderError('EncoderWorker needs Web Workers (a browser); in Node use NeoBERT directly');
  }
  // This exact form lets Vite (and other bundlers) bundle src/worker.ts as a module worker.
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'neobert' });
}

/** Sources that can cross into a worker: URLs resolved against this page, and Files. */
function transferableSource(source: ModelSource): string | unknown[] {
  if (source instanceof URL) return source.href;
  if (typeof source === 'string') {
    if (/^https?:\/\//i.test(source) || isHubModelId(source)) return source; // a Hub id resolves in the worker
    const base = baseHref();
    // The worker's own location is not the page's: resolve relative URLs here.
    return base ? new URL(bundledModelPath(source) ?? source, base).href : source;
  }
  if (isCheckpointSource(source)) {
    throw new EncoderError('a CheckpointSource object cannot be sent to a worker: pass a URL, "bundled" or the picked Files');
  }
  return Symbol.iterator in Object(source) ? [...(source as Iterable<unknown>)] : Array.from(source as ArrayLike<unknown>);
}

/** Options without callbacks (functions cannot be cloned). */
function plain<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => typeof v !== 'function')) as Partial<T>;
}

export class EncoderWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private modelInfo: ModelInfo | null = null;
  private disposed = false;
  private broken: Error | null = null;

  private constructor(
    private readonly endpoint: WorkerEndpoint,
    private readonly ownsWorker: boolean,
  ) {
    endpoint.addEventListener('message', (event: MessageEvent) => this.onMessage(event.data as ReplyMessage));
    const asWorker = endpoint as Partial<Worker>;
    if (typeof asWorker.addEventListener === 'function' && 'terminate' in endpoint) {
      asWorker.addEventListener('error', (event: ErrorEvent) => {
        event.preventDefault?.();
        this.fail(new EncoderError(`the NeoBERT worker failed: ${event.message || 'it could not start (check that the worker script is served)'}`));
      });
      asWorker.addEventListener('messageerror', () => this.fail(new EncoderError('the NeoBERT worker sent a message that could not be read')));
    }
    endpoint.start?.();
  }

  /** Starts a worker and loads the checkpoint in it (same sources and options as NeoBERT.load, minus GPU objects). */
  static async load(source: ModelSource, options: WorkerLoadOptions = {}): Promise<EncoderWorker> {
    const { worker, onProgress, ...rest } = options;
    const client = new EncoderWorker(worker ?? defaultWorker(), !worker);
    try {
      client.modelInfo = (await client.call('load', [transferableSource(source), plain(rest)], { onProgress })) as ModelInfo;
    } catch (error) {
      client.terminate();
      throw error;
    }
    return client;
  }

  info(): ModelInfo {
    return this.modelInfo!;
  }

  get config(): EncoderConfig {
    return this.modelInfo!.config;
  }

  get head(): ModelInfo['head'] {
    return this.modelInfo!.head;
  }

  get labels(): string[] | null {
    return this.modelInfo!.labels;
  }

  get hasTokenizer(): boolean {
    return this.modelInfo!.tokenizer !== null;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** As NeoBERT.embed (truncateDim, precision, prompts included): Float32Array rows, or Int8Array / Uint8Array for a quantized precision. */
  embed(inputs: Inputs, options: EmbedOptions & { precision: 'int8' | 'binary' }): Promise<Int8Array[]>;
  embed(inputs: Inputs, options: EmbedOptions & { precision: 'uint8' | 'ubinary' }): Promise<Uint8Array[]>;
  embed(inputs: Inputs, options?: EmbedOptions & { precision?: 'float32' }): Promise<Float32Array[]>;
  embed(inputs: Inputs, options?: EmbedOptions): Promise<Float32Array[] | Int8Array[] | Uint8Array[]>;
  async embed(inputs: Inputs, options: EmbedOptions = {}): Promise<Float32Array[] | Int8Array[] | Uint8Array[]> {
    const { data, rows, cols } = await this.embedMatrix(inputs, options);
    return Array.from({ length: rows }, (_, i) => data.slice(i * cols, (i + 1) * cols)) as Float32Array[] | Int8Array[] | Uint8Array[];
  }

  embedMatrix(inputs: Inputs, options: EmbedOptions & { precision: 'int8' | 'binary' }): Promise<EmbeddingMatrix<Int8Array>>;
  embedMatrix(inputs: Inputs, options: EmbedOptions & { precision: 'uint8' | 'ubinary' }): Promise<EmbeddingMatrix<Uint8Array>>;
  embedMatrix(inputs: Inputs, options?: EmbedOptions & { precision?: 'float32' }): Promise<EmbeddingMatrix>;
  embedMatrix(inputs: Inputs, options?: EmbedOptions): Promise<EmbeddingMatrix<Float32Array | Int8Array | Uint8Array>>;
  embedMatrix(inputs: Inputs, options: EmbedOptions = {}): Promise<EmbeddingMatrix<Float32Array | Int8Array | Uint8Array>> {
    return this.call('embedMatrix', [inputs, plain(options)], options) as Promise<EmbeddingMatrix<Float32Array | Int8Array | Uint8Array>>;
  }

  /** As NeoBERT.predict (CrossEncoder.predict): the folder's activation of the logits, applySoftmax. */
  predict(inputs: ClassifyInputs, options: PredictOptions = {}): Promise<number[] | number[][]> {
    return this.call('predict', [inputs, plain(options)], options) as Promise<number[] | number[][]>;
  }

  fillMask(input: string | TokenIds, options: FillMaskOptions = {}): Promise<FillMaskPrediction[][]> {
    return this.call('fillMask', [input, plain(options)], options) as Promise<FillMaskPrediction[][]>;
  }

  classify(inputs: ClassifyInputs, options: ClassifyOptions = {}): Promise<LabelScore[][]> {
    return this.call('classify', [inputs, plain(options)], options) as Promise<LabelScore[][]>;
  }

  guard(inputs: ClassifyInputs, options: GuardOptions = {}): Promise<GuardDecision[]> {
    return this.call('guard', [inputs, plain(options)], options) as Promise<GuardDecision[]>;
  }

  rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankResult[]> {
    return this.call('rank', [query, documents, plain(options)], options) as Promise<RankResult[]>;
  }

  forward(request: ForwardRequest): Promise<ForwardResult> {
    return this.call('forward', [request]) as Promise<ForwardResult>;
  }

  /** Frees the GPU memory in the worker, then ends the worker if this client started it. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      if (!this.broken) await this.call('dispose', [], {}, true);
    } finally {
      this.terminate();
    }
  }

  private terminate(): void {
    if (this.ownsWorker) (this.endpoint as Partial<Worker>).terminate?.();
  }

  private call(
    method: WorkerMethod,
    args: unknown[],
    callbacks: Pick<Pending, 'onProgress' | 'onBatch' | 'onTimings'> = {},
    evenIfDisposed = false,
  ): Promise<unknown> {
    if (this.disposed && !evenIfDisposed) return Promise.reject(new ModelDisposedError('this model was disposed; load it again'));
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...callbacks });
      const message: CallMessage = { kind: 'call', id, method, args, wantsBatch: Boolean(callbacks.onBatch) };
      try {
        this.endpoint.postMessage(message);
      } catch (error) {
        this.pending.delete(id);
        reject(new EncoderError(`${method}: the arguments cannot be sent to the worker (${(error as Error).message})`));
      }
    });
  }

  private onMessage(message: ReplyMessage): void {
    const pending = this.pending.get(message?.id);
    if (!pending) return;
    switch (message.kind) {
      case 'progress':
        pending.onProgress?.(message.progress);
        return;
      case 'batch':
        pending.onBatch?.(message.done, message.total);
        return;
      case 'result':
        this.pending.delete(message.id);
        if (message.timings) pending.onTimings?.(message.timings);
        pending.resolve(message.value);
        return;
      case 'error':
        this.pending.delete(message.id);
        pending.reject(deserializeError(message.error));
        return;
    }
  }

  /** The worker died: every pending and later call fails with `error`. */
  private fail(error: Error): void {
    this.broken = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/** EncoderWorker's first name, kept as an alias (the same class). */
export { EncoderWorker as NeoBERTWorker };
