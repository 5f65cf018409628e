// The engine as a user meets it: a loaded checkpoint on a GPU device, its tokenizer, and
// forward / embed calls. Browser-safe; Node-only helpers (folders, files) live in src/node/.
import { loadCheckpoint, type CheckpointSource, type LoadedCheckpoint, type ProgressFn } from './checkpoint';
import type { NeoBERTConfig } from './config';
import { NeoBERTError } from './errors';
import { createGPU, type AdapterDescription, type GPUContext } from './gpu';
import { NeoBERTModel } from './model';
import { Runner, type ForwardRequest, type ForwardResult } from './runner';
import { NeoBERTTokenizer } from './tokenizer';

export type Pooling = 'cls' | 'mean';
export type DType = 'f32';

export interface LoadOptions {
  /** Compute precision. Only 'f32' exists today; F16/BF16 checkpoints are converted on load. */
  dtype?: DType;
  /** Reuse a device (several models on one GPU, or tests); otherwise one is created and owned. */
  gpu?: GPUContext;
  onProgress?: ProgressFn;
}

export interface EmbedOptions {
  pooling?: Pooling;
  normalize?: boolean;
  /** Tokens per text including [CLS]/[SEP]; default and hard limit: the model's max_length. */
  maxLength?: number;
  /** Cut texts over maxLength (default); false makes them an error. */
  truncation?: boolean;
  /** Texts per GPU forward (default 32). */
  batchSize?: number;
  /** Called after each GPU batch with the number of texts done. */
  onBatch?: (done: number, total: number) => void;
}

export interface ModelInfo {
  label: string;
  config: NeoBERTConfig;
  parameterCount: number;
  dtypes: Record<string, number>;
  head: 'none' | 'mlm' | 'classification';
  adapter: AdapterDescription;
  tokenizer: 'tokenizer.json' | 'vocab.txt' | null;
}

export class NeoBERT {
  private disposed = false;

  private constructor(
    readonly checkpoint: Omit<LoadedCheckpoint, 'weights'>,
    readonly gpu: GPUContext,
    private readonly ownsGPU: boolean,
    readonly model: NeoBERTModel,
    readonly runner: Runner,
    private readonly tokenizerOrNull: NeoBERTTokenizer | null,
  ) {}

  static async load(source: CheckpointSource, options: LoadOptions = {}): Promise<NeoBERT> {
    if (options.dtype && options.dtype !== 'f32') {
      throw new NeoBERTError(`dtype "${options.dtype}" is not supported yet; use "f32" (F16/BF16 weights are converted on load)`);
    }
    const loaded = await loadCheckpoint(source, { onProgress: options.onProgress });
    const { tokenizerFiles } = loaded;
    const tokenizer =
      tokenizerFiles.tokenizerJson || tokenizerFiles.vocabTxt
        ? NeoBERTTokenizer.fromFiles(tokenizerFiles, { maxLength: loaded.config.maxLength })
        : null;
    const gpu = options.gpu ?? (await createGPU());
    try {
      const model = await NeoBERTModel.create(gpu.device, loaded.config, loaded.weights);
      const { weights: _weights, ...rest } = loaded; // host copies are not kept: the GPU has them
      return new NeoBERT(rest, gpu, !options.gpu, model, new Runner(model), tokenizer);
    } catch (e) {
      if (!options.gpu) gpu.destroy();
      throw e;
    }
  }

  get config(): NeoBERTConfig {
    return this.checkpoint.config;
  }

  get tokenizer(): NeoBERTTokenizer {
    if (!this.tokenizerOrNull) {
      throw new NeoBERTError(`${this.checkpoint.label} has no vocab.txt or tokenizer.json: pass token ids instead of text`);
    }
    return this.tokenizerOrNull;
  }

  info(): ModelInfo {
    const files = this.checkpoint.tokenizerFiles;
    return {
      label: this.checkpoint.label,
      config: this.config,
      parameterCount: this.checkpoint.parameterCount,
      dtypes: this.checkpoint.dtypes,
      head: this.model.headKind,
      adapter: this.gpu.adapter,
      tokenizer: files.tokenizerJson ? 'tokenizer.json' : files.vocabTxt ? 'vocab.txt' : null,
    };
  }

  /** Raw forward on token ids ([B, L] right-padded); reads back only the outputs named. */
  forward(request: ForwardRequest): Promise<ForwardResult> {
    this.assertUsable();
    return this.runner.forward(request);
  }

  /**
   * One embedding per text, in input order. Texts are sorted by length and batched so each
   * batch pads only to its own longest text.
   */
  async embed(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    this.assertUsable();
    if (!Array.isArray(texts) || texts.length === 0) throw new NeoBERTError('embed: expected a non-empty array of texts');
    const { pooling = 'cls', normalize = false, batchSize = 32, maxLength, truncation = true } = options;
    if (pooling !== 'cls' && pooling !== 'mean') throw new NeoBERTError(`embed: pooling must be "cls" or "mean", got "${pooling}"`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new NeoBERTError(`embed: batchSize must be a positive integer, got ${batchSize}`);
    const output = (pooling === 'cls' ? 'pooledCls' : 'pooledMean') + (normalize ? 'Normalized' : '');
    const tokenizer = this.tokenizer;

    const encoded = tokenizer.encodeEach(texts, { maxLength, truncation }).ids;
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[a].length - encoded[b].length);
    const C = this.config.hiddenSize;
    const result: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < order.length; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      const seqLen = Math.max(...indices.map((i) => encoded[i].length));
      const inputIds = new Int32Array(indices.length * seqLen).fill(tokenizer.padId);
      const attentionMask = new Int32Array(indices.length * seqLen);
      indices.forEach((textIndex, row) => {
        inputIds.set(encoded[textIndex], row * seqLen);
        attentionMask.fill(1, row * seqLen, row * seqLen + encoded[textIndex].length);
      });
      const out = await this.runner.forward({
        inputIds,
        attentionMask,
        batch: indices.length,
        seqLen,
        outputs: [output as ForwardRequest['outputs'][number]],
      });
      const pooled = Object.values(out)[0]!;
      indices.forEach((textIndex, row) => (result[textIndex] = pooled.slice(row * C, (row + 1) * C)));
      options.onBatch?.(Math.min(start + batchSize, order.length), order.length);
    }
    return result;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runner.destroy();
    this.model.destroy();
    if (this.ownsGPU) this.gpu.destroy();
  }

  private assertUsable(): void {
    if (this.disposed) throw new NeoBERTError('this model was disposed; load it again');
  }
}
