// The one model a server process serves (text-embeddings-inference serves one model per
// process): loads it, turns request inputs into token id rows (prompts, truncation on either
// side, TEI's token limit), runs the batcher's packed forwards on it, and reloads it when the GPU
// device is lost (requests meanwhile get 503 and /health says unhealthy).
import { DeviceLostError, InputError, ModelDisposedError, NeoBERTError, TokenLimitError } from '../errors';
import type { Encoder } from '../encoder';
import type { OutputName } from '../runner';
import type { EncoderTokenizer } from '../tokenizer';
import { HttpError, unhealthy, unsupported, validation } from './http-error';
import type { EmbedInput, PredictInput, TruncateOptions } from './schemas';

export type ModelKind = 'embedding' | 'reranker' | 'classifier';

export interface Rows {
  ids: number[][];
  /** Segment ids per row (pairs on a model with token types), else null. */
  typeIds: number[][] | null;
  tokens: number;
}

export class ModelHost {
  private encoder: Encoder | null;
  private reloading: Promise<void> | null = null;
  /** Test hook: a reload after a lost device waits for this (NEOBERT_SERVE_TEST_HOOKS). */
  holdReload: Promise<void> | null = null;
  onReload: () => void = () => {};
  onLog: (line: string) => void = () => {};

  private constructor(
    encoder: Encoder,
    private readonly load: () => Promise<Encoder>,
  ) {
    this.encoder = encoder;
    this.watch(encoder);
  }

  static async start(load: () => Promise<Encoder>): Promise<ModelHost> {
    return new ModelHost(await load(), load);
  }

  get healthy(): boolean {
    return this.encoder !== null && this.reloading === null;
  }

  /** The model, or 503 while it is being reloaded. */
  get model(): Encoder {
    if (!this.encoder || this.reloading) throw unhealthy('the GPU device was lost; the model is being reloaded');
    return this.encoder;
  }

  get kind(): ModelKind {
    const labels = this.model.labels;
    if (!labels) return 'embedding';
    return labels.length === 1 ? 'reranker' : 'classifier';
  }

  /** TEI's max_input_length: the sentence-transformers max_seq_length, else the model's limit. */
  get maxInputLength(): number {
    const model = this.model;
    const st = model.checkpoint.sentenceTransformers?.maxSeqLength;
    return st ? Math.min(st, model.config.maxLength) : model.config.maxLength;
  }

  get tokenizer(): EncoderTokenizer {
    const model = this.model;
    if (!model.hasTokenizer) throw unsupported(`${model.checkpoint.label} has no tokenizer files: only token ids can be served (/embed, /v1/embeddings)`);
    return model.tokenizer;
  }

  /** The batcher's forward: one packed forward on the model; a lost device becomes 503 and a reload. */
  readonly forward = async (sequences: number[][], typeIds: number[][] | null, output: string): Promise<Float32Array> => {
    const model = this.model;
    try {
      return await model.forwardSequences(sequences, typeIds, output as OutputName);
    } catch (error) {
      if (error instanceof DeviceLostError || (error instanceof ModelDisposedError && this.reloading)) {
        this.deviceLost(model);
        throw unhealthy(`${(error as Error).message.replace(/; load the model again$/, '')}; the model is being reloaded, retry shortly`);
      }
      if (error instanceof InputError) throw validation(error.message);
      // A forward in flight when the device goes fails with a plain GPU error: say what happened.
      const lost = await Promise.race([model.gpu.lost.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 200))]);
      if (lost) {
        this.deviceLost(model);
        throw unhealthy('the GPU device was lost; the model is being reloaded, retry shortly');
      }
      throw error;
    }
  };

  /** Frees the model (shutdown). */
  async dispose(): Promise<void> {
    await this.reloading;
    const model = this.encoder;
    this.encoder = null;
    await model?.dispose();
  }

  private watch(model: Encoder): void {
    model.gpu.lost.then(
      () => {
        if (this.encoder === model) this.deviceLost(model);
      },
      () => {},
    );
  }

  private deviceLost(model: Encoder): void {
    if (this.reloading || this.encoder !== model) return;
    this.onLog('the GPU device was lost: reloading the model');
    this.reloading = (async () => {
      await model.dispose().catch(() => {});
      await this.holdReload;
      for (let attempt = 1; ; attempt++) {
        try {
          const next = await this.load();
          this.encoder = next;
          this.watch(next);
          this.onLog('model reloaded');
          this.onReload();
          return;
        } catch (error) {
          this.onLog(`reload attempt ${attempt} failed: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.reloading = null;
    });
  }

  // --- inputs to token rows -------------------------------------------------------------------

  /** The prompt text for `promptName` (422 naming the known ones), else the folder's default prompt. */
  prompt(promptName: string | null): string {
    const st = this.model.checkpoint.sentenceTransformers;
    const prompts = st?.prompts ?? {};
    if (promptName !== null) {
      if (!Object.hasOwn(prompts, promptName)) {
        const known = Object.keys(prompts);
        throw validation(`\`prompt_name\` ${JSON.stringify(promptName)} is not a prompt of this model (${known.length ? `it has ${known.map((k) => JSON.stringify(k)).join(', ')}` : 'it has no prompts'})`);
      }
      return prompts[promptName];
    }
    return st?.defaultPromptName ? (prompts[st.defaultPromptName] ?? '') : '';
  }

  /** Texts (prompt put first) and token id lists as rows within the token limit. */
  embedRows(inputs: EmbedInput[], options: TruncateOptions, prompt: string): Rows {
    const limit = this.maxInputLength;
    const V = this.model.config.vocabSize;
    const ids = inputs.map((input, i) => {
      if (typeof input === 'string') return this.single(prompt + input, i, limit, options);
      const bad = input.findIndex((id) => id >= V);
      if (bad >= 0) throw validation(`\`inputs[${i}][${bad}]\` = ${input[bad]} is not a token id of this model's vocabulary of ${V}`);
      if (input.length <= limit) return input;
      if (!options.truncate) throw this.overLimit(i, input.length, limit);
      return options.direction === 'left' ? input.slice(input.length - limit) : input.slice(0, limit);
    });
    return { ids, typeIds: null, tokens: ids.reduce((a, r) => a + r.length, 0) };
  }

  /** Texts and [text, text_pair] pairs (cross-encoders, classifiers). */
  pairRows(inputs: PredictInput[], options: TruncateOptions): Rows {
    const limit = this.maxInputLength;
    const ids: number[][] = [];
    const typeIds: number[][] = [];
    inputs.forEach((input, i) => {
      if (typeof input === 'string') {
        const row = this.single(input, i, limit, options);
        ids.push(row);
        typeIds.push(new Array(row.length).fill(0));
      } else {
        const row = this.pair(input, i, limit, options);
        ids.push(row.ids);
        typeIds.push(row.typeIds);
      }
    });
    const typed = this.model.config.typeVocabSize > 1;
    return { ids, typeIds: typed ? typeIds : null, tokens: ids.reduce((a, r) => a + r.length, 0) };
  }

  /** Ids of a text with its specials; `special[i]` tells which ones the template added. */
  tokenize(text: string, addSpecialTokens: boolean): { ids: number[]; special: boolean[] } {
    const tokenizer = this.tokenizer;
    const body = this.tokenizerCall(() => tokenizer.encodeBody(text));
    if (!addSpecialTokens) return { ids: body, special: body.map(() => false) };
    const full = this.tokenizerCall(() => tokenizer.encode(text));
    const at = locate(full, body, 0);
    return { ids: full, special: full.map((_, i) => at < 0 || i < at || i >= at + body.length) };
  }

  private overLimit(index: number, tokens: number, limit: number): HttpError {
    return validation(`Input validation error: \`inputs[${index}]\` must have less than ${limit} tokens. Given: ${tokens} (set "truncate": true to cut it)`);
  }

  private tokenizerCall<T>(body: () => T): T {
    try {
      return body();
    } catch (error) {
      if (error instanceof NeoBERTError) throw new HttpError(422, 'tokenizer', `Tokenization error: ${error.message}`);
      throw error;
    }
  }

  private single(text: string, index: number, limit: number, options: TruncateOptions): number[] {
    const tokenizer = this.tokenizer;
    if (options.direction === 'right' || !options.truncate) {
      try {
        return tokenizer.encodeEach([text], { maxLength: limit, truncation: options.truncate }).ids[0];
      } catch (error) {
        if (error instanceof TokenLimitError) throw this.overLimit(index, error.tokens, limit);
        return this.tokenizerCall(() => {
          throw error;
        });
      }
    }
    // Left: keep the specials and the last tokens of the text.
    const full = this.tokenizerCall(() => tokenizer.encode(text));
    if (full.length <= limit) return full;
    const body = tokenizer.encodeBody(text);
    const at = locate(full, body, 0);
    const keep = limit - (full.length - body.length);
    if (at < 0 || keep < 1) throw validation(`\`inputs[${index}]\`: left truncation to ${limit} tokens leaves no room for the text`);
    return [...full.slice(0, at), ...body.slice(body.length - keep), ...full.slice(at + body.length)];
  }

  private pair([a, b]: [string, string], index: number, limit: number, options: TruncateOptions): { ids: number[]; typeIds: number[] } {
    const tokenizer = this.tokenizer;
    if (options.direction === 'right' || !options.truncate) {
      try {
        const rows = tokenizer.encodeEach([[a, b]], { maxLength: limit, truncation: options.truncate });
        return { ids: rows.ids[0], typeIds: rows.typeIds[0] };
      } catch (error) {
        if (error instanceof TokenLimitError) throw this.overLimit(index, error.tokens, limit);
        return this.tokenizerCall(() => {
          throw error;
        });
      }
    }
    // Left, longest_first: one token at a time off the front of the longer text (ties: the pair's).
    const full = this.tokenizerCall(() => tokenizer.encodePair(a, b));
    if (full.ids.length <= limit) return full;
    const bodyA = tokenizer.encodeBody(a);
    const bodyB = tokenizer.encodeBody(b);
    const atA = locate(full.ids, bodyA, 0);
    const atB = atA < 0 ? -1 : locate(full.ids, bodyB, atA + bodyA.length);
    let lenA = bodyA.length;
    let lenB = bodyB.length;
    let remove = full.ids.length - limit;
    while (remove > 0 && lenA + lenB > 0) {
      if (lenA > lenB) lenA--;
      else lenB--;
      remove--;
    }
    if (atB < 0 || remove > 0) throw validation(`\`inputs[${index}]\`: left truncation to ${limit} tokens leaves no room for the pair`);
    const drop = new Set<number>();
    for (let i = 0; i < bodyA.length - lenA; i++) drop.add(atA + i);
    for (let i = 0; i < bodyB.length - lenB; i++) drop.add(atB + i);
    return { ids: full.ids.filter((_, i) => !drop.has(i)), typeIds: full.typeIds.filter((_, i) => !drop.has(i)) };
  }
}

/** Where `body` starts in `full` at or after `from` (the template puts specials around it), or -1. */
function locate(full: number[], body: number[], from: number): number {
  for (let at = from; at + body.length <= full.length; at++) {
    let same = true;
    for (let i = 0; i < body.length && same; i++) same = full[at + i] === body[i];
    if (same) return at;
  }
  return -1;
}
