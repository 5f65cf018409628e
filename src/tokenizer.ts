/**
 * NeoBERT tokenizer: bert-base-uncased WordPiece (see docs/neobert-spec.md, "Tokenizer").
 *
 * The WordPiece work itself (BertNormalizer, BertPreTokenizer, WordPiece model, added-token
 * splitting, WordPiece decoder) is done by `@huggingface/tokenizers` (pure JS, browser-safe).
 * This module adds: loading from `vocab.txt` or the Hub `tokenizer.json` with validation,
 * the `[CLS] A [SEP]` template, HF-style truncation and right-padded batches for the runner.
 */
import { NeoBERTError } from './errors';
import { Tokenizer } from '@huggingface/tokenizers';

/** Default (and usual model) limit on tokens per sequence, [CLS] and [SEP] included. */
export const DEFAULT_MAX_LENGTH = 4096;

/** The special tokens a NeoBERT (bert-base-uncased) vocabulary must have. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export interface EncodedBatch {
  /** [batch * seqLen] row-major token ids, right-padded with padId. */
  inputIds: Int32Array;
  /** [batch * seqLen] row-major, 1 for real tokens, 0 for padding. */
  attentionMask: Int32Array;
  batch: number;
  /** Longest row after truncation. */
  seqLen: number;
  /** Tokens per row ([CLS] and [SEP] included) after truncation. */
  lengths: number[];
  /** Whether each row was cut to maxLength. */
  truncated: boolean[];
}

export interface EncodeBatchOptions {
  /** Per-call limit (tokens per row, specials included); default and upper bound: the tokenizer's maxLength. */
  maxLength?: number;
  /** Cut over-long texts (keeping [CLS] ... [SEP]); when false they throw TokenLimitError. Default true. */
  truncation?: boolean;
}

export interface TokenizerOptions {
  /** Model limit on tokens per sequence, specials included. Default 4096. */
  maxLength?: number;
}

/** A text has more tokens than the limit and truncation was turned off. */
export class TokenLimitError extends NeoBERTError {
  readonly index: number;
  readonly tokens: number;
  readonly limit: number;
  constructor(index: number, tokens: number, limit: number) {
    super(`text ${index} has ${tokens} tokens, over the limit of ${limit} (pass truncation to cut it)`);
    this.name = 'TokenLimitError';
    this.index = index;
    this.tokens = tokens;
    this.limit = limit;
  }
}

type Vocab = Record<string, number>;

/** Ids of the special tokens. */
interface SpecialIds {
  pad: number;
  unk: number;
  cls: number;
  sep: number;
  mask: number;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Splits vocab.txt text into tokens (line index = id) and validates it. */
function parseVocabTxt(text: string, source: string): string[] {
  if (typeof text !== 'string') throw new TypeError(`${source}: expected the file's text, got ${typeof text}`);
  let body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // A final newline ends the last token; it does not start an empty one.
  if (body.endsWith('\n')) body = body.slice(0, -1);
  if (body.endsWith('\r')) body = body.slice(0, -1);
  if (body.length === 0) throw new Error(`${source}: vocabulary is empty`);
  const lines = body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  validateVocabLines(lines, source);
  return lines;
}

function validateVocabLines(lines: string[], source: string): void {
  if (!Array.isArray(lines) || lines.length === 0) throw new Error(`${source}: vocabulary is empty`);
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const tok = lines[i];
    if (typeof tok !== 'string') throw new TypeError(`${source}: line ${i + 1} is not a string`);
    if (tok.length === 0) {
      throw new Error(`${source}: line ${i + 1} is empty (an empty line would shift every later token id)`);
    }
    const prev = seen.get(tok);
    if (prev !== undefined) {
      throw new Error(`${source}: duplicate token ${JSON.stringify(tok)} on lines ${prev + 1} and ${i + 1}`);
    }
    seen.set(tok, i);
  }
  const missing = SPECIAL_TOKENS.filter((t) => !seen.has(t));
  if (missing.length > 0) throw new Error(`${source}: vocabulary lacks special token(s) ${missing.join(' ')}`);
}

function specialTokenEntry(content: string, id: number) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * Builds a Hub-format bert-base-uncased `tokenizer.json` object (JSON-serialisable) from the
 * lines of a vocab.txt (line index = token id). Validates the lines like `fromVocabTxt`.
 */
export function buildBertTokenizerJson(vocabLines: string[]): object {
  validateVocabLines(vocabLines, 'vocab');
  const vocab: Vocab = Object.create(null);
  vocabLines.forEach((t, i) => {
    vocab[t] = i;
  });
  const cls = vocab['[CLS]'];
  const sep = vocab['[SEP]'];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((t) => specialTokenEntry(t, vocab[t])).sort((a, b) => a.id - b.id),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [cls], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [sep], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

function checkMaxLength(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new TypeError(`${what} must be an integer, got ${String(n)}`);
  if (n < 2) throw new RangeError(`${what} ${n} is too small: it must be at least 2 ([CLS] and [SEP])`);
  return n;
}

/** Reads the [CLS]/[SEP] ids named by a TemplateProcessing / BertProcessing post-processor, if any. */
function templateSpecialIds(pp: unknown, source: string): { cls?: number; sep?: number } {
  if (!isRecord(pp)) return {};
  if (pp.type === 'BertProcessing' || pp.type === 'RobertaProcessing') {
    const cls = Array.isArray(pp.cls) ? pp.cls[1] : undefined;
    const sep = Array.isArray(pp.sep) ? pp.sep[1] : undefined;
    return {
      cls: typeof cls === 'number' ? cls : undefined,
      sep: typeof sep === 'number' ? sep : undefined,
    };
  }
  if (pp.type === 'TemplateProcessing' && Array.isArray(pp.single) && isRecord(pp.special_tokens)) {
    const specials = pp.special_tokens;
    const idOf = (item: unknown): number | undefined => {
      if (!isRecord(item) || !isRecord(item.SpecialToken)) return undefined;
      const name = item.SpecialToken.id;
      const entry = typeof name === 'string' ? specials[name] : undefined;
      if (!isRecord(entry) || !Array.isArray(entry.ids) || entry.ids.length !== 1 || typeof entry.ids[0] !== 'number') {
        throw new Error(`${source}: post_processor special token ${JSON.stringify(name)} must map to exactly one id`);
      }
      return entry.ids[0];
    };
    const single = pp.single as unknown[];
    const first = single[0];
    const last = single[single.length - 1];
    const seqOnly = single.filter((x) => isRecord(x) && 'Sequence' in x).length === 1;
    if (single.length === 3 && seqOnly && isRecord(first) && 'SpecialToken' in first && isRecord(last) && 'SpecialToken' in last) {
      return { cls: idOf(first), sep: idOf(last) };
    }
    throw new Error(`${source}: post_processor template is not "[CLS] A [SEP]"`);
  }
  return {};
}

export class NeoBERTTokenizer {
  /** Number of ids (highest id + 1). */
  readonly vocabSize: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  readonly maskToken: string;
  /** Model limit on tokens per sequence, specials included. */
  readonly maxLength: number;
  /** Where the vocabulary came from (for messages). */
  readonly source: string;

  private readonly tok: Tokenizer;
  private readonly specialIdSet: Set<number>;

  private constructor(tok: Tokenizer, ids: SpecialIds, maskToken: string, vocabSize: number, maxLength: number, source: string) {
    this.tok = tok;
    this.padId = ids.pad;
    this.unkId = ids.unk;
    this.clsId = ids.cls;
    this.sepId = ids.sep;
    this.maskId = ids.mask;
    this.maskToken = maskToken;
    this.vocabSize = vocabSize;
    this.maxLength = maxLength;
    this.source = source;
    this.specialIdSet = new Set<number>();
    for (const [id, t] of tok.get_added_tokens_decoder()) if (t.special) this.specialIdSet.add(id);
  }

  /** From the text of a bert `vocab.txt` (one token per line, line index = id). */
  static fromVocabTxt(text: string, source = 'vocab.txt', opts: TokenizerOptions = {}): NeoBERTTokenizer {
    const lines = parseVocabTxt(text, source);
    return NeoBERTTokenizer.fromTokenizerJson(buildBertTokenizerJson(lines), source, opts);
  }

  /** From a Hub `tokenizer.json` (its text or the parsed object); the model must be WordPiece. */
  static fromTokenizerJson(json: string | object, source = 'tokenizer.json', opts: TokenizerOptions = {}): NeoBERTTokenizer {
    const maxLength = checkMaxLength(opts.maxLength ?? DEFAULT_MAX_LENGTH, 'maxLength');
    let parsed: unknown = json;
    if (typeof json === 'string') {
      try {
        parsed = JSON.parse(json);
      } catch (e) {
        throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
      }
    }
    if (!isRecord(parsed)) throw new Error(`${source}: expected a JSON object`);
    const model = parsed.model;
    if (!isRecord(model)) throw new Error(`${source}: no "model" object`);
    if (model.type !== 'WordPiece') {
      throw new Error(`${source}: model type is ${JSON.stringify(model.type)}, expected "WordPiece" (bert-base-uncased)`);
    }
    const vocab = model.vocab;
    if (!isRecord(vocab) || Object.keys(vocab).length === 0) throw new Error(`${source}: model.vocab is missing or empty`);

    // token -> id over model vocab and added tokens; ids must be unique.
    const byId = new Map<number, string>();
    const tokenIds = new Map<string, number>();
    const addToken = (t: string, id: unknown, where: string) => {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw new Error(`${source}: ${where} token ${JSON.stringify(t)} has invalid id ${JSON.stringify(id)}`);
      }
      const other = byId.get(id);
      if (other !== undefined && other !== t) {
        throw new Error(`${source}: id ${id} is used by both ${JSON.stringify(other)} and ${JSON.stringify(t)}`);
      }
      const prevId = tokenIds.get(t);
      if (prevId !== undefined && prevId !== id) {
        throw new Error(`${source}: token ${JSON.stringify(t)} has two ids, ${prevId} and ${id}`);
      }
      byId.set(id, t);
      tokenIds.set(t, id);
    };
    for (const [t, id] of Object.entries(vocab)) addToken(t, id, 'vocab');
    const rawAdded = parsed.added_tokens ?? [];
    if (!Array.isArray(rawAdded)) throw new Error(`${source}: added_tokens must be an array`);
    const added: Record<string, unknown>[] = [];
    for (const a of rawAdded) {
      if (!isRecord(a) || typeof a.content !== 'string') throw new Error(`${source}: malformed entry in added_tokens`);
      addToken(a.content, a.id, 'added');
      added.push(a);
    }
    const missing = SPECIAL_TOKENS.filter((t) => !tokenIds.has(t));
    if (missing.length > 0) throw new Error(`${source}: vocabulary lacks special token(s) ${missing.join(' ')}`);
    // The five specials must be matched whole in the text ("[MASK]" stays one token) even if
    // the file lists them only in the model vocab.
    for (const t of SPECIAL_TOKENS) {
      if (!added.some((a) => a.content === t)) added.push(specialTokenEntry(t, tokenIds.get(t)!));
    }

    const unkToken = typeof model.unk_token === 'string' ? model.unk_token : '[UNK]';
    const unk = tokenIds.get(unkToken);
    if (unk === undefined) throw new Error(`${source}: unk_token ${JSON.stringify(unkToken)} is not in the vocabulary`);

    const tmpl = templateSpecialIds(parsed.post_processor, source);
    const cls = tmpl.cls ?? tokenIds.get('[CLS]')!;
    const sep = tmpl.sep ?? tokenIds.get('[SEP]')!;
    for (const [name, id] of [['[CLS]', cls], ['[SEP]', sep]] as const) {
      if (!byId.has(id)) throw new Error(`${source}: post_processor ${name} id ${id} is not in the vocabulary`);
    }
    const padding = parsed.padding;
    const pad = isRecord(padding) && typeof padding.pad_id === 'number' ? padding.pad_id : tokenIds.get('[PAD]')!;
    const mask = tokenIds.get('[MASK]')!;

    let vocabSize = 0;
    for (const id of byId.keys()) if (id + 1 > vocabSize) vocabSize = id + 1;

    // The library expects every component key to be present (null when absent).
    const libJson = {
      ...parsed,
      added_tokens: added,
      normalizer: parsed.normalizer ?? null,
      pre_tokenizer: parsed.pre_tokenizer ?? null,
      post_processor: parsed.post_processor ?? null,
      decoder: parsed.decoder ?? { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { ...model, unk_token: unkToken },
    };
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(libJson, { do_lower_case: true, model_max_length: maxLength });
    } catch (e) {
      throw new Error(`${source}: cannot build the tokenizer (${(e as Error).message})`);
    }
    return new NeoBERTTokenizer(tok, { pad, unk, cls, sep, mask }, '[MASK]', vocabSize, maxLength, source);
  }

  /** Prefers tokenizer.json when both are given. */
  static fromFiles(files: { vocabTxt: string | null; tokenizerJson: string | null }, opts: TokenizerOptions = {}): NeoBERTTokenizer {
    if (files.tokenizerJson != null) return NeoBERTTokenizer.fromTokenizerJson(files.tokenizerJson, 'tokenizer.json', opts);
    if (files.vocabTxt != null) return NeoBERTTokenizer.fromVocabTxt(files.vocabTxt, 'vocab.txt', opts);
    throw new Error('no tokenizer files: the checkpoint needs tokenizer.json or vocab.txt');
  }

  /** Sequence ids without [CLS]/[SEP]. */
  private encodeBody(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** `[CLS] ... [SEP]` ids, no truncation. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${typeof text}`);
    const body = this.encodeBody(text);
    const out = new Array<number>(body.length + 2);
    out[0] = this.clsId;
    for (let i = 0; i < body.length; i++) out[i + 1] = body[i];
    out[body.length + 1] = this.sepId;
    return out;
  }

  /** WordPiece tokens; without [CLS]/[SEP] unless `addSpecial` (HF `tokenize` convention). */
  tokenize(text: string, opts: { addSpecial?: boolean } = {}): string[] {
    if (typeof text !== 'string') throw new TypeError(`tokenize: text must be a string, got ${typeof text}`);
    const toks = this.tok.tokenize(text, { add_special_tokens: false });
    if (!opts.addSpecial) return toks;
    return [this.idToToken(this.clsId)!, ...toks, this.idToToken(this.sepId)!];
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    const arr = Array.from(ids);
    for (let i = 0; i < arr.length; i++) {
      const id = arr[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`decode: ids[${i}] = ${id} is not a token id (vocabulary size ${this.vocabSize})`);
      }
    }
    const kept = opts.skipSpecial ? arr.filter((id) => !this.specialIdSet.has(id)) : arr;
    if (kept.length === 0) return '';
    return this.tok.decode(kept, { skip_special_tokens: false });
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /**
   * Each text as `[CLS] ... [SEP]` ids, unpadded. Texts over `maxLength` are cut to
   * `[CLS] first maxLength-2 tokens [SEP]` (HF truncation), or throw `TokenLimitError` naming
   * the text's index when `truncation` is false.
   */
  encodeEach(texts: string[], opts: EncodeBatchOptions = {}): { ids: number[][]; truncated: boolean[] } {
    if (!Array.isArray(texts)) throw new TypeError('encodeBatch: texts must be an array of strings');
    if (texts.length === 0) throw new Error('encodeBatch: empty batch (texts.length === 0); pass at least one text');
    let limit = this.maxLength;
    if (opts.maxLength !== undefined) {
      limit = checkMaxLength(opts.maxLength, 'maxLength');
      if (limit > this.maxLength) {
        throw new RangeError(`maxLength ${limit} is over the model limit of ${this.maxLength}`);
      }
    }
    const truncation = opts.truncation ?? true;
    const ids: number[][] = new Array(texts.length);
    const truncated: boolean[] = new Array(texts.length);
    for (let b = 0; b < texts.length; b++) {
      const text = texts[b];
      if (typeof text !== 'string') {
        throw new TypeError(`encodeBatch: texts[${b}] is not a string (got ${text === null ? 'null' : typeof text})`);
      }
      let body = this.encodeBody(text);
      const total = body.length + 2;
      truncated[b] = total > limit;
      if (truncated[b]) {
        if (!truncation) throw new TokenLimitError(b, total, limit);
        body = body.slice(0, limit - 2);
      }
      ids[b] = [this.clsId, ...body, this.sepId];
    }
    return { ids, truncated };
  }

  /** Right-padded batch of `encodeEach`'s rows, with the attention mask. */
  encodeBatch(texts: string[], opts: EncodeBatchOptions = {}): EncodedBatch {
    const { ids, truncated } = this.encodeEach(texts, opts);
    const batch = ids.length;
    const lengths = ids.map((row) => row.length);
    const seqLen = Math.max(...lengths);
    const inputIds = new Int32Array(batch * seqLen);
    const attentionMask = new Int32Array(batch * seqLen);
    if (this.padId !== 0) inputIds.fill(this.padId);
    for (let b = 0; b < batch; b++) {
      inputIds.set(ids[b], b * seqLen);
      attentionMask.fill(1, b * seqLen, b * seqLen + lengths[b]);
    }
    return { inputIds, attentionMask, batch, seqLen, lengths, truncated };
  }
}

/** Architecture-neutral name of the tokenizer class. */
export { NeoBERTTokenizer as EncoderTokenizer };
