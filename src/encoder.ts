// The engine as a user meets it: a loaded checkpoint of any supported architecture on a GPU
// device, its tokenizer, and the task calls (embed, rank, fillMask, classify, forward).
// Browser-safe; Node-only helpers (folders, files) live in src/node/ and are reached through
// src/source.ts.
//
// Every call runs alone: calls on one model are queued (this.exclusive), so concurrent callers
// never interleave batches, and the timings a call reports are its own.
import { loadCheckpoint, type LoadedCheckpoint } from './checkpoint';
import type { CheckpointSource } from './sources/types';
import { CheckpointError, DeviceLostError, InputError, ModelDisposedError, EncoderError, UnknownTaskError } from './errors';
import { contextFromDevice, createGPU, releaseDestroyed, withErrorScope, type GPUContext } from './gpu';
import type { EncoderConfig, EncoderModel, HeadKind } from './models/types';
import { Runner, type ForwardRequest, type ForwardResult, type OutputName } from './runner';
import { resolveSource, type ModelSource } from './source';
import { EncoderTokenizer } from './tokenizer';
import { positiveInt } from './validate';
import { CallTimer, now } from './api/timing';
import {
  normalizeRowsInPlace,
  PRECISIONS,
  quantizeEmbeddings,
  sigmoid,
  similarityMatrix,
  softmaxInPlace,
  topKIndices,
  truncateColumns,
} from './api/postprocess';
import { SentenceTransformersHead } from './sentence-head';
import type { CrossEncoderActivation, SentenceTransformersConfig } from './sentence-transformers';
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
  PredictOptions,
  RankOptions,
  RankResult,
  RunTimings,
  TextPair,
  TokenIds,
} from './api/types';

export * from './api/types';
export { ModelDisposedError, DeviceLostError } from './errors';

/** Options of a quantized embed() call, by the row type they give. */
type Int8Options = EmbedOptions & { precision: 'int8' | 'binary' };
type Uint8Options = EmbedOptions & { precision: 'uint8' | 'ubinary' };
type FloatOptions = EmbedOptions & { precision?: 'float32' };
type AnyRows = Float32Array[] | Int8Array[] | Uint8Array[];

/** Prompt names encodeQuery / encodeDocument use, first present wins (ST's, then jina-style tasks). */
const QUERY_PROMPTS = ['query', 'retrieval.query'];
const DOCUMENT_PROMPTS = ['document', 'passage', 'corpus', 'retrieval.passage'];

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
    readonly checkpoint: Omit<LoadedCheckpoint, 'weights' | 'tokenizerFiles' | 'sentenceTransformersDense'>,
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
      // The sentence-transformers modules after the transformer, recorded in every forward.
      const st = loaded.sentenceTransformers;
      let head: SentenceTransformersHead | null = null;
      try {
        if (st?.pooling) {
          head = await withErrorScope(gpu.device, `uploading the sentence-transformers modules of ${loaded.label}`, () =>
            SentenceTransformersHead.create(gpu.device, st, loaded.sentenceTransformersDense, loaded.config.hiddenSize),
          );
        }
      } catch (e) {
        model.destroy();
        throw e;
      }
      // Host copies are not kept: the GPU and the tokenizer have them.
      const { weights: _weights, tokenizerFiles: _files, sentenceTransformersDense: _dense, ...rest } = loaded;
      return new Encoder(rest, gpu, ownsGPU, model, new Runner(model, head), tokenizer, kind);
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
      crossEncoder: this.checkpoint.crossEncoder,
    };
  }

  /** Raw forward on token ids ([B, L] right-padded); reads back only the outputs named. */
  forward(request: ForwardRequest): Promise<ForwardResult> {
    return this.exclusive(() => this.runner.forward(request));
  }

  /**
   * One embedding per input, in input order, as SentenceTransformer.encode: the folder's modules
   * (Pooling, Dense, Normalize), then truncateDim, normalize and precision (see EmbedOptions).
   * Float32Array rows, or Int8Array / Uint8Array for a quantized precision. Inputs are sorted by
   * length and run batchSize at a time, packed without padding.
   */
  embed(inputs: Inputs, options: Int8Options): Promise<Int8Array[]>;
  embed(inputs: Inputs, options: Uint8Options): Promise<Uint8Array[]>;
  embed(inputs: Inputs, options?: FloatOptions): Promise<Float32Array[]>;
  embed(inputs: Inputs, options?: EmbedOptions): Promise<AnyRows>;
  async embed(inputs: Inputs, options: EmbedOptions = {}): Promise<AnyRows> {
    const { data, rows, cols } = await this.embedMatrix(inputs, options);
    return Array.from({ length: rows }, (_, i) => data.slice(i * cols, (i + 1) * cols)) as AnyRows;
  }

  /** embed() with the folder's query prompt ("query", else a jina-style "retrieval.query") unless a prompt is given. */
  encodeQuery(inputs: Inputs, options: Int8Options): Promise<Int8Array[]>;
  encodeQuery(inputs: Inputs, options: Uint8Options): Promise<Uint8Array[]>;
  encodeQuery(inputs: Inputs, options?: FloatOptions): Promise<Float32Array[]>;
  encodeQuery(inputs: Inputs, options?: EmbedOptions): Promise<AnyRows>;
  encodeQuery(inputs: Inputs, options: EmbedOptions = {}): Promise<AnyRows> {
    return this.embed(inputs, this.withNamedPrompt(QUERY_PROMPTS, options));
  }

  /** embed() with the folder's document prompt ("document", "passage", "corpus", else "retrieval.passage") unless a prompt is given. */
  encodeDocument(inputs: Inputs, options: Int8Options): Promise<Int8Array[]>;
  encodeDocument(inputs: Inputs, options: Uint8Options): Promise<Uint8Array[]>;
  encodeDocument(inputs: Inputs, options?: FloatOptions): Promise<Float32Array[]>;
  encodeDocument(inputs: Inputs, options?: EmbedOptions): Promise<AnyRows>;
  encodeDocument(inputs: Inputs, options: EmbedOptions = {}): Promise<AnyRows> {
    return this.embed(inputs, this.withNamedPrompt(DOCUMENT_PROMPTS, options));
  }

  /** The prompt names encodeQuery / encodeDocument look for, in this order. */
  private withNamedPrompt(names: string[], given: EmbedOptions): EmbedOptions {
    if (given.prompt !== undefined || given.promptName !== undefined) return given;
    const prompts = this.checkpoint.sentenceTransformers?.prompts ?? {};
    const name = names.find((n) => Object.hasOwn(prompts, n));
    return name === undefined ? given : { ...given, promptName: name };
  }

  /** The same embeddings as embed(), as one row-major [inputs, width] matrix. */
  embedMatrix(inputs: Inputs, options: Int8Options): Promise<EmbeddingMatrix<Int8Array>>;
  embedMatrix(inputs: Inputs, options: Uint8Options): Promise<EmbeddingMatrix<Uint8Array>>;
  embedMatrix(inputs: Inputs, options?: FloatOptions): Promise<EmbeddingMatrix>;
  embedMatrix(inputs: Inputs, options?: EmbedOptions): Promise<EmbeddingMatrix<Float32Array | Int8Array | Uint8Array>>;
  embedMatrix(inputs: Inputs, opts: EmbedOptions = {}): Promise<EmbeddingMatrix<Float32Array | Int8Array | Uint8Array>> {
    return this.exclusive(async (timer) => {
      const st = this.checkpoint.sentenceTransformers;
      const head = this.runner.head;
      const precision = opts.precision ?? 'float32';
      if (!PRECISIONS.includes(precision)) throw new InputError(`embed: precision must be one of ${PRECISIONS.join(', ')}, got ${JSON.stringify(opts.precision)}`);
      if (opts.normalize !== undefined && typeof opts.normalize !== 'boolean') throw new InputError(`embed: normalize must be true or false, got ${JSON.stringify(opts.normalize)}`);
      // The folder's modules, unless the call asks for the transformer's own CLS / mean pooling.
      const useHead = head !== null && opts.pooling === undefined;
      if (head && opts.pooling !== undefined && !plainPoolingChain(st!)) {
        throw new InputError(
          `embed: pooling "${opts.pooling}" would skip modules of this sentence-transformers folder (${describeChain(st!)}); omit pooling to apply them all`,
        );
      }
      const task = this.taskFor('embed', opts.task);
      const prompt = this.resolvePrompt(opts, task?.prompt, inputs);
      const prompted = prompt ? this.prepend(inputs, prompt) : inputs;
      // sentence-transformers folders cut texts at max_seq_length (all-MiniLM-L6-v2: 256) unless told otherwise.
      const stLimit = st?.maxSeqLength;
      const maxLength = opts.maxLength ?? (stLimit ? Math.min(stLimit, this.config.maxLength) : undefined);
      const rows = this.encode('embed', prompted, { ...opts, maxLength }, timer);
      // include_prompt false: the prompt's tokens ([CLS] included) leave the pooling.
      const excluded = useHead && prompt && !st!.pooling!.includePrompt ? this.promptLength(prompt) : 0;
      let width: number;
      let output: OutputName;
      const truncateDim = this.truncateDimFor(opts, useHead);
      if (useHead) {
        output = 'sentenceEmbedding';
        width = head.dimension;
      } else {
        const { pooling, normalize } = this.embeddingDefaults(opts);
        // Normalised after the cut when truncating (as normalize_embeddings), else on the GPU.
        const gpuNormalize = normalize && truncateDim === null;
        output = `${pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${gpuNormalize ? 'Normalized' : ''}` as OutputName;
        width = this.config.hiddenSize;
      }
      if (truncateDim !== null && truncateDim > width) {
        throw new InputError(`embed: truncateDim ${truncateDim} is above the embedding width ${width}`);
      }
      const C = width;
      let data: Float32Array = new Float32Array(rows.ids.length * C);
      await this.runBatches(
        rows,
        output,
        opts,
        timer,
        (index, out, row) => data.set(out.subarray(row * C, (row + 1) * C), index * C),
        excluded,
        task,
      );
      const n = rows.ids.length;
      let cols = C;
      if (truncateDim !== null) {
        data = truncateColumns(data, n, C, truncateDim);
        cols = truncateDim;
      }
      // With the folder's modules, `normalize` is normalize_embeddings (after the cut); a checkpoint
      // whose own encode() normalises after a Matryoshka cut (jina) does so by default.
      const own = this.config.encode;
      const normalizeAfter = useHead
        ? (opts.normalize ?? (truncateDim !== null && own?.normalize === true))
        : truncateDim !== null && this.embeddingDefaults(opts).normalize;
      if (normalizeAfter) normalizeRowsInPlace(data, n, cols);
      if (precision === 'float32') return { data, rows: n, cols };
      const quantized = quantizeEmbeddings(data, n, cols, precision);
      return { data: quantized.data, rows: n, cols: quantized.cols };
    }, opts.onTimings);
  }

  /**
   * The call's truncateDim, else (with the folder's modules) the folder's truncate_dim, else the
   * checkpoint's own encode() truncate_dim (jina's config.json); null = all. A model that lists
   * matryoshka_dimensions takes only those.
   */
  private truncateDimFor(options: EmbedOptions, useHead: boolean): number | null {
    const own = this.config.encode;
    if (options.truncateDim !== undefined) {
      const t = options.truncateDim;
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) throw new InputError(`embed: truncateDim must be a positive integer, got ${JSON.stringify(t)}`);
      const dims = own?.dimensions;
      if (dims && !dims.includes(t)) throw new InputError(`embed: truncateDim ${t} is not one of this model's matryoshka_dimensions (${dims.join(', ')})`);
      return t;
    }
    const folder = useHead ? (this.checkpoint.sentenceTransformers?.truncateDim ?? null) : null;
    const t = folder ?? own?.truncateDim ?? null;
    return t === null || t >= this.config.hiddenSize ? folder : t;
  }

  /**
   * SentenceTransformer.similarity(a, b) with the folder's similarity_fn_name (cosine, dot,
   * euclidean = -L2 distance, manhattan = -L1 distance; cosine without a folder): [a rows][b rows].
   */
  similarity(a: readonly Float32Array[] | EmbeddingMatrix, b: readonly Float32Array[] | EmbeddingMatrix): number[][] {
    const rowsOf = (m: readonly Float32Array[] | EmbeddingMatrix, name: string): Float32Array[] => {
      if (Array.isArray(m)) return m as Float32Array[];
      const { data, rows, cols } = m as EmbeddingMatrix;
      if (!(data instanceof Float32Array) || data.length !== rows * cols) throw new InputError(`similarity: ${name} must be Float32Array rows or a float32 EmbeddingMatrix`);
      return Array.from({ length: rows }, (_, i) => data.subarray(i * cols, (i + 1) * cols));
    };
    const x = rowsOf(a, 'a');
    const y = rowsOf(b, 'b');
    const d = x[0]?.length;
    for (const [name, rows] of [['a', x], ['b', y]] as const) {
      rows.forEach((r, i) => {
        if (!(r instanceof Float32Array) || r.length !== d) throw new InputError(`similarity: ${name}[${i}] is not a Float32Array of ${d} values`);
      });
    }
    return similarityMatrix(this.checkpoint.sentenceTransformers?.similarity ?? 'cosine', x, y);
  }

  /**
   * The cls / mean pooling and normalisation used when a call names `pooling`, or for a
   * checkpoint without a sentence-transformers Pooling module: the call's options, else the
   * folder's single cls / mean mode and Normalize, else cls / none.
   */
  embeddingDefaults(options: EmbedOptions = {}): { pooling: Pooling; normalize: boolean } {
    const st = this.checkpoint.sentenceTransformers;
    const own = this.config.encode; // the checkpoint's own encode() (jina: emb_pooler, normalised)
    const folderMode = st?.pooling?.modes.length === 1 ? st.pooling.modes[0] : null;
    const pooling = options.pooling ?? (folderMode === 'cls' || folderMode === 'mean' ? folderMode : (own?.pooling ?? 'cls'));
    if (pooling !== 'cls' && pooling !== 'mean') throw new InputError(`embed: pooling must be "cls" or "mean", got ${JSON.stringify(pooling)}`);
    const normalize = options.normalize ?? st?.normalize ?? own?.normalize ?? false;
    if (typeof normalize !== 'boolean') throw new InputError(`embed: normalize must be true or false, got ${JSON.stringify(normalize)}`);
    return { pooling, normalize };
  }

  /**
   * The task adapter a call names (config.tasks: jina lora_adaptations): its index, the
   * per-sequence input that carries it, and its prompt; null without one. An unknown name is an
   * UnknownTaskError listing the model's tasks.
   */
  private taskFor(what: string, task: string | undefined): { input: string; index: number; prompt: string } | null {
    if (task === undefined) return null;
    if (typeof task !== 'string') throw new InputError(`${what}: task must be a string, got ${typeof task}`);
    const tasks = this.config.tasks;
    const index = tasks ? tasks.names.indexOf(task) : -1;
    if (!tasks || index < 0) {
      const available = tasks?.names ?? [];
      throw new UnknownTaskError(
        `${what}: task ${JSON.stringify(task)} is not a task of this model (${available.length > 0 ? `its tasks: ${available.map((n) => JSON.stringify(n)).join(', ')}` : 'it has no task adapters'})`,
        task,
        available,
      );
    }
    return { input: tasks.input, index, prompt: tasks.prompts[task] ?? '' };
  }

  /**
   * The prompt of a call as sentence-transformers resolves it: an explicit prompt wins over
   * promptName, which wins over the call's task instruction (jina task_instructions; texts only:
   * token ids get the adapters alone), which wins over the folder's default_prompt_name; '' is a
   * prompt given (no default). null: none.
   */
  resolvePrompt(options: EmbedOptions = {}, taskPrompt?: string, inputs?: Inputs): string | null {
    const st = this.checkpoint.sentenceTransformers;
    if (options.prompt !== undefined) {
      if (typeof options.prompt !== 'string') throw new InputError(`embed: prompt must be a string, got ${typeof options.prompt}`);
      return options.prompt === '' ? null : options.prompt;
    }
    if (options.promptName !== undefined) {
      const prompts = st?.prompts ?? {};
      if (typeof options.promptName !== 'string' || !Object.hasOwn(prompts, options.promptName)) {
        const known = Object.keys(prompts);
        throw new InputError(
          `embed: promptName ${JSON.stringify(options.promptName)} is not a prompt of this model (${known.length > 0 ? `it has ${known.map((k) => JSON.stringify(k)).join(', ')}` : 'it has no named prompts'})`,
        );
      }
      return prompts[options.promptName] || null;
    }
    if (taskPrompt !== undefined) return inputs && !inputs.every((x) => typeof x === 'string') ? null : taskPrompt || null;
    return st?.defaultPromptName ? st.prompts[st.defaultPromptName] || null : null;
  }

  private prepend(inputs: Inputs, prompt: string): Inputs {
    if (!Array.isArray(inputs) || !inputs.every((x) => typeof x === 'string')) throw new InputError('embed: a prompt applies to texts, not token ids');
    return (inputs as string[]).map((text) => prompt + text);
  }

  /** Ids of the prompt tokenized alone, less a trailing special token (ST's prompt_length: [CLS] + its word pieces). */
  private promptLength(prompt: string): number {
    const ids = this.tokenizer.encode(prompt);
    return ids.length - (ids.length > 0 && this.tokenizer.isSpecialId(ids[ids.length - 1]) ? 1 : 0);
  }

  /**
   * One packed forward of sequences already tokenized (ids with their specials, each within the
   * model's limit), queued like every other call; `output` of each sequence back in order, as
   * one row-major array. The server's batcher merges requests that arrive together into it.
   */
  forwardSequences(sequences: number[][], typeIds: number[][] | null, output: OutputName, onTimings?: (t: RunTimings) => void): Promise<Float32Array> {
    return this.exclusive(async (timer) => {
      const rows = this.encode('forwardSequences', sequences, {}, timer);
      if (typeIds && (typeIds.length !== rows.ids.length || typeIds.some((t, i) => t.length !== rows.ids[i].length))) {
        throw new InputError('forwardSequences: typeIds must have the shape of sequences');
      }
      const out = await this.timedForward(timer, { ids: rows.ids, typeIds: this.config.typeVocabSize > 1 ? typeIds : null }, output);
      return out[output]!;
    }, onTimings);
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
      const multiLabel = this.checkpoint.crossEncoder?.problemType === 'multi_label_classification';
      const result: LabelScore[][] = new Array(rows.ids.length);
      await this.runBatches(rows, 'logits', options, timer, (index, out, row) => {
        const logits = Float64Array.from(out.subarray(row * n, (row + 1) * n));
        const probs = Float64Array.from(logits);
        if (multiLabel) probs.forEach((v, i) => (probs[i] = sigmoid(v)));
        else softmaxInPlace(probs);
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
   * Documents ranked by relevance to the query with a one-label cross-encoder (a sequence
   * classifier on [query, document] pairs: ms-marco MiniLM, bge-reranker), best first, ties in
   * input order, as CrossEncoder.rank: score = the folder's activation of the logit (see
   * info().crossEncoder: ms-marco's Identity gives the logit; default sigmoid), or the logit with
   * rawScores. A multi-label model is refused (InputError), as CrossEncoder.rank raises.
   */
  rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankResult[]> {
    return this.exclusive(async (timer) => {
      const labels = this.requireLabels('rank');
      if (labels.length !== 1) {
        throw new InputError(
          `rank: CrossEncoder.rank() only works for models with num_labels=1; this model has ${labels.length} labels (${labels.join(', ')}): use predict() or classify() on [query, document] pairs`,
        );
      }
      const activation = this.checkpoint.crossEncoder!.activation;
      if (typeof query !== 'string') throw new InputError(`rank: query must be a string, got ${typeof query}`);
      if (!Array.isArray(documents) || documents.length === 0) throw new InputError('rank: documents must be a non-empty array of strings');
      documents.forEach((d, i) => {
        if (typeof d !== 'string') throw new InputError(`rank: documents[${i}] is not a string (got ${d === null ? 'null' : typeof d})`);
      });
      const topK = Math.min(positiveInt(options.topK ?? documents.length, 'rank: topK'), documents.length);
      const rows = this.encode('rank', documents.map((d) => [query, d] as const), options, timer);
      const results: RankResult[] = new Array(documents.length);
      await this.runBatches(rows, 'logits', options, timer, (index, out, row) => {
        const logit = out[row];
        const score = options.rawScores ? logit : activate(activation, logit);
        results[index] = options.returnDocuments ? { index, score, logit, document: documents[index] } : { index, score, logit };
      });
      return results.sort((a, b) => b.score - a.score || a.index - b.index).slice(0, topK);
    }, options.onTimings);
  }

  /**
   * CrossEncoder.predict: the logits of each input (text pairs [a, b], texts, or token ids)
   * through the folder's activation (info().crossEncoder), then a softmax over the labels with
   * applySoftmax (multi-label heads). One label: one number per input; else one array per input.
   */
  predict(inputs: ClassifyInputs, options: PredictOptions = {}): Promise<number[] | number[][]> {
    return this.exclusive(async (timer) => {
      const labels = this.requireLabels('predict');
      const activation = this.checkpoint.crossEncoder!.activation;
      const rows = this.encode('predict', inputs, options, timer);
      const n = labels.length;
      const result: number[][] = new Array(rows.ids.length);
      await this.runBatches(rows, 'logits', options, timer, (index, out, row) => {
        const scores = Float64Array.from(out.subarray(row * n, (row + 1) * n), (v) => activate(activation, v));
        if (options.applySoftmax && n > 1) softmaxInPlace(scores);
        result[index] = Array.from(scores);
      });
      return n === 1 ? result.map((r) => r[0]) : result;
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
      live.runner.head?.destroy();
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
    excludeLeading = 0,
    task: { input: string; index: number } | null = null,
  ): Promise<void> {
    const batchSize = positiveInt(options.batchSize ?? 32, 'batchSize');
    const order = rows.ids.map((_, i) => i).sort((a, b) => rows.ids[a].length - rows.ids[b].length);
    for (let start = 0; start < order.length; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      const batch: EncodedRows = { ids: indices.map((i) => rows.ids[i]), typeIds: rows.typeIds && indices.map((i) => rows.typeIds![i]) };
      const out = await this.timedForward(timer, batch, output, undefined, excludeLeading, task);
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
  private async timedForward(
    timer: CallTimer,
    rows: EncodedRows,
    output: OutputName,
    logitRows?: number[],
    excludeLeading = 0,
    task: { input: string; index: number } | null = null,
  ): Promise<ForwardResult> {
    const sequences = rows.ids;
    const tokens = sequences.reduce((a, ids) => a + ids.length, 0);
    const batch = sequences.length;
    const runner = this.runner;
    const computedBefore = runner.stats.tokensComputed;
    const out = await timer.timeAsync('gpuMs', () =>
      runner.forwardPacked({
        sequences,
        typeIds: rows.typeIds ?? undefined,
        outputs: [output],
        ...(logitRows ? { logitRows } : {}),
        ...(excludeLeading ? { excludeLeading: new Array(batch).fill(excludeLeading) } : {}),
        // Every sequence with the call's task adapter (jina: adapter_mask = its lora_adaptations index).
        ...(task ? { sequenceInputs: { [task.input]: new Int32Array(batch).fill(task.index) } } : {}),
      }),
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

/** A cross-encoder activation of one logit (float64; torch computes it in float32). */
function activate(activation: CrossEncoderActivation['activation'], x: number): number {
  if (activation === 'sigmoid') return sigmoid(x);
  if (activation === 'tanh') return Math.tanh(x);
  if (activation === 'relu') return Math.max(0, x);
  return x;
}

/** A folder whose modules are one cls / mean Pooling and at most Normalize: `pooling` replaces nothing else. */
function plainPoolingChain(st: SentenceTransformersConfig): boolean {
  const modes = st.pooling?.modes ?? [];
  return modes.length === 1 && (modes[0] === 'cls' || modes[0] === 'mean') && st.steps.every((s) => s.kind === 'normalize') && st.pooling!.includePrompt;
}

function describeChain(st: SentenceTransformersConfig): string {
  const parts = [`Pooling ${st.pooling?.modes.join(' + ')}${st.pooling?.includePrompt === false ? ' without the prompt' : ''}`];
  for (const step of st.steps) parts.push(step.kind === 'dense' ? `${step.path} ${step.inFeatures}->${step.outFeatures}` : 'Normalize');
  return parts.join(', ');
}

/** A head kind in words, for messages. */
function describeHead(kind: HeadKind): string {
  return { none: 'no head', mlm: 'an MLM head', classification: 'a classification head', 'token-classification': 'a token classification head' }[kind];
}
