// The engine as a user meets it: a loaded checkpoint of any supported architecture on a GPU
// device, its tokenizer, and the task calls (embed, rank, fillMask, classify, forward).
// Browser-safe; Node-only helpers (folders, files) live in src/node/ and are reached through
// src/source.ts.
//
// Every call runs alone: calls on one model are queued (this.exclusive), so concurrent callers
// never interleave batches, and the timings a call reports are its own.
import { loadCheckpoint, type LoadedCheckpoint } from './checkpoint';
import type { CheckpointSource } from './sources/types';
import { CheckpointError, DeviceLostError, InputError, ModelDisposedError, EncoderError } from './errors';
import { contextFromDevice, createGPU, releaseDestroyed, withErrorScope, type GPUContext } from './gpu';
import type { EncoderConfig, EncoderModel, HeadKind } from './models/types';
import { Runner, type ForwardRequest, type ForwardResult, type OutputName } from './runner';
import { resolveSource, type ModelSource } from './source';
import { EncoderTokenizer } from './tokenizer';
import { positiveInt } from './validate';
import { CallTimer, now } from './api/timing';
import { sigmoid, softmaxInPlace, topKIndices } from './api/postprocess';
import type {
  ClassifyInputs,
  ClassifyOptions,
  EmbedOptions,
  EmbeddingMatrix,
  FillMaskOptions,
  FillMaskPrediction,
  GuardDecision,
  GuardOptions,
  Inputs,
  LabelScore,
  LoadOptions,
  ModelInfo,
  Pooling,
  RankOptions,
  RankResult,
  RunTimings,
  TextPair,
  TokenIds,
} from './api/types';

export * from './api/types';
export { ModelDisposedError, DeviceLostError } from './errors';

/** bert-base-uncased [MASK], used for token id inputs when the checkpoint has no tokenizer. */
const BERT_MASK_ID = 103;

interface TokenOptions {
  maxLength?: number;
  truncation?: boolean;
}

interface BatchOptions extends TokenOptions {
  batchSize?: number;
  onBatch?: (done: number, total: number) => void;
}

/** Token ids of every input, with segment ids where the inputs were sentence pairs. */
interface EncodedRows {
  ids: number[][];
  typeIds: number[][] | null;
}

/** What a loaded model holds; dispose() drops all of it, so nothing stays referenced. */
interface Live {
  model: EncoderModel;
  runner: Runner;
  tokenizer: EncoderTokenizer | null;
  gpu: GPUContext;
}

export class Encoder {
  private disposed = false;
  private disposing: Promise<void> | null = null;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private queue: Promise<void> = Promise.resolve();
  private live: Live | null;

  private constructor(
    /** What was loaded, less the weights (on the GPU) and the tokenizer files (parsed). */
    readonly checkpoint: Omit<LoadedCheckpoint, 'weights' | 'tokenizerFiles'>,
    gpu: GPUContext,
    private readonly ownsGPU: boolean,
    model: EncoderModel,
    runner: Runner,
    tokenizer: EncoderTokenizer | null,
    private readonly tokenizerKind: string | null,
  ) {
    this.live = { model, runner, tokenizer, gpu };
    // A device the caller shares outlives this model: its lost promise must not keep it alive.
    const self = new WeakRef(this);
    gpu.lost.then((info) => {
      const model = self.deref();
      if (model && !model.disposed) model.lostInfo = info;
    });
  }

  private get state(): Live {
    if (!this.live) throw new ModelDisposedError('this model was disposed; load it again');
    return this.live;
  }

  /** The GPU device and adapter (throws ModelDisposedError after dispose()). */
  get gpu(): GPUContext {
    return this.state.gpu;
  }

  /** The model on the GPU (throws ModelDisposedError after dispose()). */
  get model(): EncoderModel {
    return this.state.model;
  }

  /** Runs the forward plans (throws ModelDisposedError after dispose()). */
  get runner(): Runner {
    return this.state.runner;
  }

  private get tokenizerOrNull(): EncoderTokenizer | null {
    return this.state.tokenizer;
  }

  /**
   * Loads a checkpoint (see ModelSource: 'bundled', a Hub model id, a Hub-style URL, a Node path,
   * Files, or a CheckpointSource), uploads its weights and compiles the kernels. config.json's
   * model_type picks the architecture (src/models/).
   */
  static async load(source: ModelSource, options: LoadOptions = {}): Promise<Encoder> {
    if (options.dtype !== undefined && !['f32', 'fp32', 'f16', 'fp16'].includes(options.dtype)) {
      throw new InputError(`dtype "${options.dtype}" is not supported; use "f32" (default) or "f16"`);
    }
    if (options.arithmetic !== undefined && options.arithmetic !== 'f32' && options.arithmetic !== 'f16') {
      throw new InputError(`arithmetic "${options.arithmetic}" is not supported; use "f32" or "f16"`);
    }
    const device = options.device ?? 'webgpu';
    if (typeof device === 'string' && device !== 'webgpu') {
      throw new InputError(`device "${device}" is not supported: this engine runs on WebGPU only ("webgpu", or pass a GPUDevice)`);
    }
    const checkpointSource: CheckpointSource = await resolveSource(source, { cache: options.cache, revision: options.revision });
    const loaded = await loadCheckpoint(checkpointSource, { onProgress: options.onProgress });
    const { tokenizer, kind } = Encoder.tokenizerFor(loaded, options);
    const ownsGPU = !options.gpu && typeof device === 'string';
    const gpu = options.gpu ?? (typeof device === 'string' ? await createGPU() : contextFromDevice(device));
    try {
      const dtype = options.dtype === 'f16' || options.dtype === 'fp16' ? 'f16' : 'f32';
      const model = await withErrorScope(gpu.device, `uploading the ${dtype} weights of ${loaded.label} (${loaded.parameterCount} parameters)`, () =>
        loaded.architecture.createModel(gpu.device, loaded.config, loaded.weights, { dtype, arithmetic: options.arithmetic }),
      );
      const { weights: _weights, tokenizerFiles: _files, ...rest } = loaded; // host copies are not kept: the GPU and the tokenizer have them
      return new Encoder(rest, gpu, ownsGPU, model, new Runner(model), tokenizer, kind);
    } catch (e) {
      if (ownsGPU) gpu.destroy();
      throw e;
    } finally {
      loaded.close(); // the weights were read as they were uploaded
    }
  }

  private static tokenizerFor(loaded: LoadedCheckpoint, options: LoadOptions): { tokenizer: EncoderTokenizer | null; kind: string | null } {
    const tokenizerOptions = { maxLength: loaded.config.maxLength };
    if (options.tokenizer instanceof EncoderTokenizer) return { tokenizer: options.tokenizer, kind: 'given' };
    if (options.tokenizer) {
      const { vocabTxt = null, tokenizerJson = null } = options.tokenizer;
      return { tokenizer: EncoderTokenizer.fromFiles({ ...options.tokenizer, vocabTxt, tokenizerJson }, tokenizerOptions), kind: 'given' };
    }
    const files = loaded.tokenizerFiles;
    if (!files.tokenizerJson && !files.vocabTxt && !(files.vocabJson && files.mergesTxt) && !files.spmModel) return { tokenizer: null, kind: null };
    const kind = files.tokenizerJson ? 'tokenizer.json' : files.vocabTxt ? 'vocab.txt' : files.vocabJson ? 'vocab.json + merges.txt' : 'spm.model';
    try {
      return { tokenizer: EncoderTokenizer.fromFiles(files, tokenizerOptions), kind };
    } catch (error) {
      // Name the file with its folder or URL ("tokenizer.json: ..." -> "/models/x/tokenizer.json: ...").
      const message = (error as Error)?.message ?? String(error);
      const base = loaded.label.replace(/[\\/]+$/, '');
      const file = /^(tokenizer\.json|vocab\.txt|vocab\.json|merges\.txt|spm\.model|added_tokens\.json|tokenizer_config\.json|special_tokens_map\.json)\b/.exec(message)?.[1];
      throw new CheckpointError(file ? `${base}/${message}` : `${base}/${kind}: ${message}`);
    }
  }

  get config(): EncoderConfig {
    return this.checkpoint.config;
  }

  get tokenizer(): EncoderTokenizer {
    if (!this.tokenizerOrNull) {
      throw new EncoderError(
        `${this.checkpoint.label} has no tokenizer files (tokenizer.json, vocab.txt, vocab.json + merges.txt): pass token ids instead of text, or a tokenizer in the load options`,
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
      architecture: this.checkpoint.architecture.name,
      config: this.config,
      parameterCount: this.checkpoint.parameterCount,
      dtypes: this.checkpoint.dtypes,
      head: this.model.headKind,
      labels: this.labels,
      adapter: this.gpu.adapter,
      tokenizer: this.tokenizerKind,
      sentenceTransformers: this.checkpoint.sentenceTransformers,
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
      const { pooling, normalize } = this.embeddingDefaults(options);
      const output = `${pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${normalize ? 'Normalized' : ''}` as OutputName;
      const prompted = this.applyPrompt(inputs, options);
      // sentence-transformers folders cut texts at max_seq_length (all-MiniLM-L6-v2: 256) unless told otherwise.
      const stLimit = this.checkpoint.sentenceTransformers?.maxSeqLength;
      const maxLength = options.maxLength ?? (stLimit ? Math.min(stLimit, this.config.maxLength) : undefined);
      const rows = this.encode('embed', prompted, { ...options, maxLength }, timer);
      const C = this.config.hiddenSize;
      const data = new Float32Array(rows.ids.length * C);
      await this.runBatches(rows, output, options, timer, (index, out, row) => data.set(out.subarray(row * C, (row + 1) * C), index * C));
      return { data, rows: rows.ids.length, cols: C };
    }, options.onTimings);
  }

  /** Pooling and normalisation of embed(): the call's options, else the sentence-transformers folder's, else cls / none. */
  embeddingDefaults(options: EmbedOptions = {}): { pooling: Pooling; normalize: boolean } {
    const st = this.checkpoint.sentenceTransformers;
    const pooling = options.pooling ?? st?.pooling ?? 'cls';
    if (pooling !== 'cls' && pooling !== 'mean') throw new InputError(`embed: pooling must be "cls" or "mean", got ${JSON.stringify(pooling)}`);
    const normalize = options.normalize ?? st?.normalize ?? false;
    if (typeof normalize !== 'boolean') throw new InputError(`embed: normalize must be true or false, got ${JSON.stringify(normalize)}`);
    return { pooling, normalize };
  }

  private applyPrompt(inputs: Inputs, options: EmbedOptions): Inputs {
    const st = this.checkpoint.sentenceTransformers;
    if (options.prompt !== undefined && options.promptName !== undefined) throw new InputError('embed: give prompt or promptName, not both');
    let prompt = options.prompt;
    if (options.promptName !== undefined) {
      const prompts = st?.prompts ?? {};
      if (!(options.promptName in prompts)) {
        const known = Object.keys(prompts);
        throw new InputError(
          `embed: promptName ${JSON.stringify(options.promptName)} is not a prompt of this model (${known.length > 0 ? `it has ${known.map((k) => JSON.stringify(k)).join(', ')}` : 'it has no named prompts'})`,
        );
      }
      prompt = prompts[options.promptName];
    } else if (prompt === undefined && st?.defaultPromptName) {
      prompt = st.prompts[st.defaultPromptName];
    }
    if (prompt === undefined || prompt === '') return inputs;
    if (typeof prompt !== 'string') throw new InputError(`embed: prompt must be a string, got ${typeof prompt}`);
    if (!Array.isArray(inputs) || !inputs.every((x) => typeof x === 'string')) throw new InputError('embed: a prompt applies to texts, not token ids');
    return (inputs as string[]).map((text) => prompt + text);
  }

  /**
   * Predictions for each mask token of one text (or token id sequence), best first, in the order
   * the masks appear. Needs an MLM head.
   */
  fillMask(input: string | TokenIds, options: FillMaskOptions = {}): Promise<FillMaskPrediction[][]> {
    return this.exclusive(async (timer) => {
      if (this.model.headKind !== 'mlm') {
        throw new EncoderError(
          `fillMask needs an MLM head; ${this.checkpoint.label} has ${describeHead(this.model.headKind)}`,
        );
      }
      const V = this.config.vocabSize;
      const topK = Math.min(positiveInt(options.topK ?? 5, 'fillMask: topK'), V);
      const [ids] = this.encode('fillMask', [input] as Inputs, options, timer).ids;
      const maskId = this.tokenizerOrNull ? this.tokenizerOrNull.maskId : BERT_MASK_ID;
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
        const limit = options.maxLength ?? this.config.maxLength;
        if (typeof input === 'string' && input.includes(maskToken) && ids.length >= limit && options.truncation !== false) {
          throw new InputError(
            `fillMask: every ${maskToken} of the text lies past the first ${limit} tokens, which is where truncation cut it; shorten the text or move ${maskToken} nearer its start`,
          );
        }
        throw new InputError(`fillMask: the input has no ${maskToken} token (write ${maskToken} where a word should be predicted)`);
      }
      // Logits of the masked rows only: an embed's work plus a few decoder rows, at any length.
      const out = await this.timedForward(timer, { ids: [ids], typeIds: null }, 'logits', positions); // logits (positions, V)
      return timer.time('readbackMs', () => {
        const logits = out.logits!;
        const probs = new Float64Array(V);
        return positions.map((p, row) => {
          probs.set(logits.subarray(row * V, (row + 1) * V));
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
   * Label probabilities per input (softmax over the labels), best first. Inputs may be texts,
   * sentence pairs [text, text_pair], or token ids. Needs a classification head.
   */
  classify(inputs: ClassifyInputs, options: ClassifyOptions = {}): Promise<LabelScore[][]> {
    return this.exclusive(async (timer) => {
      const labels = this.requireLabels('classify');
      const topK = Math.min(positiveInt(options.topK ?? labels.length, 'classify: topK'), labels.length);
      const rows = this.encode('classify', inputs, options, timer);
      const n = labels.length;
      const result: LabelScore[][] = new Array(rows.ids.length);
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
   * Allow/block decisions from a sequence classifier used as a guardrail (e.g. a ModernBERT
   * prompt-injection classifier): block when the probability of the block labels reaches
   * `threshold`. One decision per input, in input order.
   */
  async guard(inputs: ClassifyInputs, options: GuardOptions = {}): Promise<GuardDecision[]> {
    const labels = this.requireLabels('guard');
    const threshold = options.threshold ?? 0.5;
    if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) throw new InputError(`guard: threshold must be a number in [0, 1], got ${String(threshold)}`);
    let block: number[];
    if (options.blockLabels === undefined) {
      if (labels.length !== 2) {
        throw new InputError(`guard: this classifier has ${labels.length} labels (${labels.join(', ')}); name the ones that block with blockLabels`);
      }
      block = [1];
    } else {
      if (!Array.isArray(options.blockLabels) || options.blockLabels.length === 0) throw new InputError('guard: blockLabels must be a non-empty array of label names or indices');
      block = options.blockLabels.map((l) => {
        const id = typeof l === 'number' ? l : labels.indexOf(l);
        if (!Number.isInteger(id) || id < 0 || id >= labels.length) {
          throw new InputError(`guard: blockLabels entry ${JSON.stringify(l)} is not a label of this model (${labels.map((x, i) => `${i}: ${x}`).join(', ')})`);
        }
        return id;
      });
    }
    const { threshold: _t, blockLabels: _b, ...classifyOptions } = options;
    const results = await this.classify(inputs, { ...classifyOptions, topK: labels.length });
    return results.map((scores, index) => {
      const score = scores.filter((s) => block.includes(s.id)).reduce((sum, s) => sum + s.score, 0);
      return { index, decision: score >= threshold ? 'block' : 'allow', score, label: scores[0].label, labels: scores };
    });
  }

  /**
   * Documents ranked by relevance to the query with a cross-encoder (a sequence classifier on
   * [query, document] pairs: ms-marco MiniLM, bge-reranker), best first. score = sigmoid(logit)
   * for a one-label head (as sentence-transformers' CrossEncoder), else the softmax probability of
   * the last label.
   */
  rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankResult[]> {
    return this.exclusive(async (timer) => {
      const labels = this.requireLabels('rank');
      if (typeof query !== 'string') throw new InputError(`rank: query must be a string, got ${typeof query}`);
      if (!Array.isArray(documents) || documents.length === 0) throw new InputError('rank: documents must be a non-empty array of strings');
      documents.forEach((d, i) => {
        if (typeof d !== 'string') throw new InputError(`rank: documents[${i}] is not a string (got ${d === null ? 'null' : typeof d})`);
      });
      const topK = Math.min(positiveInt(options.topK ?? documents.length, 'rank: topK'), documents.length);
      const rows = this.encode('rank', documents.map((d) => [query, d] as const), options, timer);
      const n = labels.length;
      const results: RankResult[] = new Array(documents.length);
      await this.runBatches(rows, 'logits', options, timer, (index, out, row) => {
        const logits = Float64Array.from(out.subarray(row * n, (row + 1) * n));
        let score: number;
        if (n === 1) score = sigmoid(logits[0]);
        else {
          const probs = Float64Array.from(logits);
          softmaxInPlace(probs);
          score = probs[n - 1];
        }
        results[index] = { index, score, logit: logits[n - 1] };
      });
      return results.sort((a, b) => b.score - a.score || a.index - b.index).slice(0, topK);
    }, options.onTimings);
  }

  /**
   * Frees the model's GPU buffers (and the device when load() created it) once the call in
   * flight, if any, has finished. Later calls reject with ModelDisposedError.
   */
  dispose(): Promise<void> {
    if (this.disposing) return this.disposing;
    this.disposed = true;
    this.disposing = this.queue.then(async () => {
      const live = this.live;
      this.live = null;
      if (!live) return;
      live.runner.destroy();
      live.model.destroy();
      if (this.ownsGPU) {
        live.gpu.destroy();
      } else if (!this.lostInfo) {
        // A shared device frees destroyed buffers once its queue has moved past them: let it, so
        // the memory is back when dispose() resolves (on CPU adapters, in RSS).
        await releaseDestroyed(live.gpu.device);
      }
    });
    return this.disposing;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  // ---------------------------------------------------------------------------------------------

  private requireLabels(what: string): string[] {
    const labels = this.labels;
    if (!labels) {
      throw new EncoderError(
        `${what} needs a sequence classification head (a *ForSequenceClassification checkpoint); ${this.checkpoint.label} has ${describeHead(this.model.headKind)}`,
      );
    }
    return labels;
  }

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
        if (!this.lostInfo && !(error instanceof EncoderError || error instanceof RangeError || error instanceof TypeError)) {
          await Promise.race([this.gpu.lost, new Promise((resolve) => setTimeout(resolve, 0))]);
        }
        if (this.lostInfo && !this.disposed) throw this.lostError();
        throw error;
      }
      onTimings?.(timer.finish());
      return result;
    });
    // The queue keeps no reference to the result: a call's output belongs to its caller alone.
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Texts, sentence pairs (tokenized) or token id sequences, as plain id arrays, every id checked. */
  private encode(what: string, inputs: ClassifyInputs | readonly TextPair[], options: TokenOptions, timer: CallTimer): EncodedRows {
    if (!Array.isArray(inputs) || inputs.length === 0) {
      throw new InputError(`${what}: expected a non-empty array of texts or token id arrays, got ${Array.isArray(inputs) ? 'an empty array' : typeof inputs}`);
    }
    const V = this.config.vocabSize;
    const isPair = (x: unknown) => Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string';
    if (inputs.every((x) => typeof x === 'string') || inputs.every(isPair)) {
      const tokenizer = this.tokenizer;
      const encoded = timer.time('tokenizeMs', () => tokenizer.encodeEach(inputs as string[], options));
      // A tokenizer given at load may know more words than the model.
      encoded.ids.forEach((ids, i) => {
        const j = ids.findIndex((id) => id >= V);
        if (j >= 0) throw new InputError(`${what}: text ${i} has the token ${JSON.stringify(tokenizer.idToToken(ids[j]))} (id ${ids[j]}), outside this model's vocabulary of ${V}`);
      });
      const typeIds = (encoded as { typeIds?: number[][] }).typeIds;
      return { ids: encoded.ids, typeIds: this.config.typeVocabSize > 1 && typeIds ? typeIds : null };
    }
    const limit = options.maxLength ?? this.config.maxLength;
    // Mixed kinds: name the first input that is not of the first input's kind (or of any kind).
    const kindOf = (x: unknown) =>
      typeof x === 'string' ? 'a string' : isPair(x) ? 'a text pair' : Array.isArray(x) || ArrayBuffer.isView(x) ? 'token ids' : x === null ? 'null' : typeof x;
    const firstKind = kindOf(inputs[0]);
    const odd = (inputs as readonly unknown[]).findIndex((x) => kindOf(x) !== firstKind || !['a string', 'a text pair', 'token ids'].includes(kindOf(x)));
    if (odd >= 0) {
      const kind = kindOf(inputs[odd]);
      throw new InputError(
        `${what}: input ${odd} is ${kind}${odd > 0 && kind !== firstKind ? ` but input 0 is ${firstKind}` : ''}; pass only texts, only text pairs, or only token id arrays`,
      );
    }
    const ids = (inputs as readonly unknown[]).map((row, i) => {
      const seq = Array.from(row as ArrayLike<number>);
      if (seq.length === 0) throw new InputError(`${what}: input ${i} has no token ids`);
      if (seq.length > limit) throw new InputError(`${what}: input ${i} has ${seq.length} token ids, over the limit of ${limit}`);
      seq.forEach((id, j) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new InputError(`${what}: input ${i} token ${j} = ${id} is not a token id in [0, ${V})`);
      });
      return seq;
    });
    return { ids, typeIds: null };
  }

  /**
   * Sorts rows by length, runs them `batchSize` sequences per forward (packed back to back, or
   * padded when that is cheaper: see timedForward), and hands each row's output to
   * `take(inputIndex, output, rowInBatch)`.
   */
  private async runBatches(
    rows: EncodedRows,
    output: OutputName,
    options: BatchOptions,
    timer: CallTimer,
    take: (index: number, out: Float32Array, row: number) => void,
  ): Promise<void> {
    const batchSize = positiveInt(options.batchSize ?? 32, 'batchSize');
    const order = rows.ids.map((_, i) => i).sort((a, b) => rows.ids[a].length - rows.ids[b].length);
    for (let start = 0; start < order.length; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      const batch: EncodedRows = { ids: indices.map((i) => rows.ids[i]), typeIds: rows.typeIds && indices.map((i) => rows.typeIds![i]) };
      const out = await this.timedForward(timer, batch, output);
      timer.time('readbackMs', () => indices.forEach((index, row) => take(index, out[output]!, row)));
      options.onBatch?.(Math.min(start + batchSize, order.length), order.length);
    }
  }

  /**
   * One GPU forward of `rows`, packed with no padding (Runner.forwardPacked: plans of a few
   * capacities, so calls of any lengths reuse them), with its GPU time and token counts added to
   * the call's timings. Per-sequence outputs come back in the order of `rows`; with `logitRows`
   * (MLM), logits only for those packed token rows, in that order.
   */
  private async timedForward(timer: CallTimer, rows: EncodedRows, output: OutputName, logitRows?: number[]): Promise<ForwardResult> {
    const sequences = rows.ids;
    const tokens = sequences.reduce((a, ids) => a + ids.length, 0);
    const batch = sequences.length;
    const runner = this.runner;
    const computedBefore = runner.stats.tokensComputed;
    const out = await timer.timeAsync('gpuMs', () =>
      runner.forwardPacked({ sequences, typeIds: rows.typeIds ?? undefined, outputs: [output], ...(logitRows ? { logitRows } : {}) }),
    );
    timer.t.sequences += batch;
    timer.t.tokens += tokens;
    timer.t.computedTokens += runner.stats.tokensComputed - computedBefore;
    timer.t.batches++;
    return out;
  }

  /** The input with `id` at `position`, decoded without special tokens or padding; other masks stay. */
  private filledSequence(ids: number[], position: number, id: number): string | null {
    const tokenizer = this.tokenizerOrNull;
    if (!tokenizer) return null;
    const edited = ids.slice();
    edited[position] = id;
    const drop = new Set([tokenizer.clsId, tokenizer.sepId, tokenizer.padId]);
    return tokenizer.decode(edited.filter((x, i) => i === position || !drop.has(x)));
  }
}

/** The first name of the API; the same class. */
export { Encoder as NeoBERT };

/** A head kind in words, for messages. */
function describeHead(kind: HeadKind): string {
  return { none: 'no head', mlm: 'an MLM head', classification: 'a classification head', 'token-classification': 'a token classification head' }[kind];
}
