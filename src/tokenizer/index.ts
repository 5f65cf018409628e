/**
 * Text encoder tokenizer, architecture-neutral: BERT / MiniLM / NeoBERT WordPiece, RoBERTa and
 * ModernBERT byte-level BPE, XLM-RoBERTa SentencePiece Unigram.
 *
 * Loads `tokenizer.json` (WordPiece, BPE or Unigram model), `vocab.txt` (BERT WordPiece), or
 * `vocab.json` + `merges.txt` (RoBERTa / GPT-2 byte-level BPE), with `tokenizer_config.json` and
 * `special_tokens_map.json` for the named special tokens.
 *
 * The normalizers, pre-tokenizers, models (WordPiece, BPE, Unigram) and decoders are those of
 * `@huggingface/tokenizers` (pure JS, browser-safe). This module does the rest itself, to match
 * the Rust `tokenizers` crate that transformers uses:
 * - added tokens are cut out with Unicode White_Space for lstrip/rstrip (src/tokenizer/added.ts);
 * - the ByteLevel pre-tokenizer split uses Unicode White_Space, not JavaScript's `\s` (which has
 *   U+FEFF and lacks U+0085);
 * - the special-token template and type ids come from the post_processor (RoBERTa pairs: all 0);
 * - `truncation` / `padding` stored in tokenizer.json are ignored (as transformers' `tokenizer(text)`);
 * - HF-style truncation (pairs: longest_first) and right-padded batches for the runner.
 */
import { CheckpointError, InputError, EncoderError, TokenLimitError } from '../errors';
import { ByteLevelPreTokenizer, SequencePreTokenizer, Tokenizer, type PreTokenizer } from '@huggingface/tokenizers';
import { AddedTokenSplitter, type AddedEntry } from './added';
import {
  SPECIAL_TOKENS,
  buildBertTokenizerJson,
  buildRobertaTokenizerJson,
  isRecord,
  parseJsonFile,
  parseMergesTxt,
  parseVocabJson,
  parseVocabTxt,
  readSettings,
  specialTokenEntry,
  type TokenizerSettings,
} from './files';
import { parseSpmModel, SpmUnigram, SPM_PIECE_TYPE } from './spm';
import { applyTemplate, bertTemplate, longestFirst, parsePostProcessor, robertaTemplate, specialCount, type Template } from './template';

export { SPECIAL_TOKENS, buildBertTokenizerJson, buildRobertaTokenizerJson };

/** Default (and usual model) limit on tokens per sequence, specials included. */
export const DEFAULT_MAX_LENGTH = 4096;

export interface EncodedBatch {
  /** [batch * seqLen] row-major token ids, right-padded with padId. */
  inputIds: Int32Array;
  /** [batch * seqLen] row-major, 1 for real tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** [batch * seqLen] row-major token type ids (0 on padding). */
  tokenTypeIds: Int32Array;
  batch: number;
  /** Longest row after truncation. */
  seqLen: number;
  /** Tokens per row (specials included) after truncation. */
  lengths: number[];
  /** Whether each row was cut to maxLength. */
  truncated: boolean[];
}

export interface EncodeBatchOptions {
  /** Per-call limit (tokens per row, specials included); default and upper bound: the tokenizer's maxLength. */
  maxLength?: number;
  /**
   * Cut over-long inputs (keeping the specials; pairs lose tokens from the longer text first,
   * transformers' 'longest_first'); when false they throw TokenLimitError. Default true.
   */
  truncation?: boolean;
}

/** A text, or a pair of texts (cross-encoders, NLI): `[text, textPair]`. */
export type TokenizerInput = string | readonly [string, string];

export interface EncodedRows {
  /** Ids per input, specials included, unpadded. */
  ids: number[][];
  /** Token type ids per input (same shapes as ids). */
  typeIds: number[][];
  /** Whether each input was cut to maxLength. */
  truncated: boolean[];
}

export interface TokenizerOptions {
  /** Model limit on tokens per sequence, specials included (the model config's). Default 4096. */
  maxLength?: number;
}

/** Options of the single-file factories: the tokenizer_config.json / special_tokens_map.json beside it. */
export interface TokenizerFileOptions extends TokenizerOptions {
  /** tokenizer_config.json (text or parsed). */
  tokenizerConfig?: string | object | null;
  /** special_tokens_map.json (text or parsed). */
  specialTokensMap?: string | object | null;
}

/** The text of a checkpoint's tokenizer files; null or absent when it lacks one. */
export interface TokenizerFileTexts {
  tokenizerJson?: string | null;
  vocabTxt?: string | null;
  vocabJson?: string | null;
  mergesTxt?: string | null;
  /** spm.model bytes (SentencePiece Unigram: DeBERTa-v3, mDeBERTa). */
  spmModel?: Uint8Array | null;
  /** added_tokens.json (the slow tokenizers' added tokens, e.g. DeBERTa-v3's [MASK] 128000). */
  addedTokensJson?: string | null;
  tokenizerConfig?: string | null;
  specialTokensMap?: string | null;
}

export { TokenLimitError };

function checkMaxLength(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new InputError(`${what} must be an integer, got ${typeof n === 'string' ? JSON.stringify(n) : String(n)}`);
  if (n < 2) throw new InputError(`${what} ${n} is too small: it must be at least 2 (the special tokens)`);
  return n;
}

function describe(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}

/**
 * The ByteLevel split regex of GPT-2 / the Rust crate with `\s` as Unicode White_Space:
 * U+0085 is whitespace, U+FEFF is not (JavaScript's `\s` has it the other way round).
 */
const BYTE_LEVEL_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

/** Points every ByteLevel pre-tokenizer (also inside a Sequence) at BYTE_LEVEL_SPLIT. */
function fixByteLevelWhitespace(pre: PreTokenizer | null): void {
  if (pre instanceof ByteLevelPreTokenizer) pre.pattern = new RegExp(BYTE_LEVEL_SPLIT.source, 'gu');
  else if (pre instanceof SequencePreTokenizer) for (const p of pre.tokenizers) fixByteLevelWhitespace(p);
}

/** Whether the normalizer lowercases (so 'Σ' must become 'σ' char by char, as in the Rust crate). */
function lowercases(n: unknown): boolean {
  if (!isRecord(n)) return false;
  if (n.type === 'BertNormalizer') return n.lowercase !== false;
  if (n.type === 'Lowercase') return true;
  if (n.type === 'Sequence' && Array.isArray(n.normalizers)) return n.normalizers.some(lowercases);
  return false;
}

type ModelType = 'WordPiece' | 'BPE' | 'Unigram';

interface Built {
  tok: Tokenizer;
  modelType: ModelType;
  template: Template;
  ids: { pad: number; unk: number | null; mask: number | null };
  maskToken: string | null;
  vocabSize: number;
  added: AddedEntry[];
  lowerSigma: boolean;
  /** spm.model: the exact SentencePiece encoder runs each text section (the library model only decodes). */
  spm?: { unigram: SpmUnigram; lowercase: boolean };
}

/** Validates a tokenizer.json object and builds the library tokenizer from it. */
function buildFromJson(parsed: Record<string, unknown>, source: string, settings: TokenizerSettings): Built {
  const fail = (msg: string) => new CheckpointError(`${source}: ${msg}`);
  const model = parsed.model;
  if (!isRecord(model)) throw fail('no "model" object');
  let modelType = model.type;
  if (modelType === undefined) {
    // Older files (roberta-base) leave the type out.
    modelType = Array.isArray(model.vocab) ? 'Unigram' : 'merges' in model ? 'BPE' : 'WordPiece';
  }
  if (modelType !== 'WordPiece' && modelType !== 'BPE' && modelType !== 'Unigram') {
    throw fail(`model type is ${JSON.stringify(modelType)}, expected "WordPiece", "BPE" or "Unigram"`);
  }

  // token <-> id over model vocab and added tokens; ids must be unique.
  const byId = new Map<number, string>();
  const tokenIds = new Map<string, number>();
  const addToken = (t: string, id: unknown, where: string) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw fail(`${where} token ${JSON.stringify(t)} has invalid id ${JSON.stringify(id)}`);
    }
    const other = byId.get(id);
    if (other !== undefined && other !== t) throw fail(`id ${id} is used by both ${JSON.stringify(other)} and ${JSON.stringify(t)}`);
    const prevId = tokenIds.get(t);
    if (prevId !== undefined && prevId !== id) throw fail(`token ${JSON.stringify(t)} has two ids, ${prevId} and ${id}`);
    byId.set(id, t);
    tokenIds.set(t, id);
  };

  let unk: number | null = null;
  const libModel: Record<string, unknown> = { ...model, type: modelType };
  if (modelType === 'Unigram') {
    const vocab = model.vocab;
    if (!Array.isArray(vocab) || vocab.length === 0) throw fail('model.vocab (Unigram) must be a non-empty array of [piece, score]');
    vocab.forEach((entry, i) => {
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1])) {
        throw fail(`model.vocab[${i}] is not [piece, score]: ${JSON.stringify(entry)?.slice(0, 80)}`);
      }
      addToken(entry[0], i, 'vocab');
    });
    const unkId = model.unk_id ?? null;
    if (unkId !== null && (typeof unkId !== 'number' || !Number.isInteger(unkId) || unkId < 0 || unkId >= vocab.length)) {
      throw fail(`model.unk_id ${JSON.stringify(unkId)} is not an index of model.vocab`);
    }
    if (unkId === null) throw fail('model.unk_id is null: a Unigram model needs an unknown piece');
    unk = unkId;
  } else {
    const vocab = model.vocab;
    if (!isRecord(vocab) || Object.keys(vocab).length === 0) throw fail('model.vocab is missing or empty');
    for (const [t, id] of Object.entries(vocab)) addToken(t, id, 'vocab');
    const unkToken = model.unk_token ?? (modelType === 'WordPiece' ? '[UNK]' : null);
    if (unkToken !== null) {
      if (typeof unkToken !== 'string') throw fail(`model.unk_token must be a string or null, got ${JSON.stringify(unkToken)}`);
      const id = tokenIds.get(unkToken);
      if (id === undefined) throw fail(`unk_token ${JSON.stringify(unkToken)} is not in the vocabulary`);
      unk = id;
    }
    libModel.unk_token = unkToken;
    if (modelType === 'BPE') {
      const merges = model.merges;
      if (!Array.isArray(merges)) throw fail('model.merges must be an array');
      merges.forEach((m, i) => {
        const ok = typeof m === 'string' ? m.split(' ').length === 2 : Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string';
        if (!ok) throw fail(`model.merges[${i}] is not "left right" or [left, right]: ${JSON.stringify(m)?.slice(0, 80)}`);
      });
    }
  }

  const rawAdded = parsed.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) throw fail('added_tokens must be an array');
  const addedJson: Record<string, unknown>[] = [];
  for (const [i, a] of rawAdded.entries()) {
    if (!isRecord(a) || typeof a.content !== 'string' || a.content.length === 0) throw fail(`added_tokens[${i}] is malformed (needs "id" and a non-empty "content")`);
    addToken(a.content, a.id, 'added');
    addedJson.push(a);
  }
  // A file whose added tokens are not BERT's (MPNet: <s> </s> <pad> <mask>, while [CLS] [SEP] [MASK]
  // are plain vocabulary entries that split as "[", "cl", "##s", "]") keeps its own.
  const ownSpecials = addedJson.some((a) => a.special === true) && !addedJson.some((a) => a.content === '[CLS]' || a.content === '[SEP]');
  if (modelType === 'WordPiece' && !ownSpecials) {
    const missing = SPECIAL_TOKENS.filter((t) => !tokenIds.has(t));
    if (missing.length > 0) throw fail(`vocabulary lacks special token(s) ${missing.join(' ')}`);
    // The five specials must be matched whole in the text ("[MASK]" stays one token) even if
    // the file lists them only in the model vocab.
    for (const t of SPECIAL_TOKENS) {
      if (!addedJson.some((a) => a.content === t)) addedJson.push(specialTokenEntry(t, tokenIds.get(t)!));
    }
  }
  // A mask named by the config matches whole, with its lstrip (RoBERTa's <mask>), if not listed.
  const maskSetting = settings.tokens.mask_token;
  if (maskSetting && tokenIds.has(maskSetting.content) && !addedJson.some((a) => a.content === maskSetting.content)) {
    addedJson.push({ ...specialTokenEntry(maskSetting.content, tokenIds.get(maskSetting.content)!, maskSetting.lstrip), rstrip: maskSetting.rstrip });
  }

  const hasId = (id: number) => byId.has(id);
  let template = parsePostProcessor(parsed.post_processor, source, hasId);
  if (!template) {
    const c = tokenIds.get('[CLS]');
    const s = tokenIds.get('[SEP]');
    const bos = tokenIds.get('<s>');
    const eos = tokenIds.get('</s>');
    if (c !== undefined && s !== undefined) template = bertTemplate(c, s);
    else if (bos !== undefined && eos !== undefined) template = robertaTemplate(bos, eos);
    else throw fail('no post_processor, and no [CLS]/[SEP] or <s>/</s> tokens to build the template from');
    template.kind = 'default';
  }
  const single = template.single;
  const aAt = single.findIndex((p) => 'sequence' in p);
  const before = single[aAt - 1];
  const after = single[aAt + 1];
  if (!before || !('special' in before) || !after || !('special' in after)) {
    throw fail('post_processor template for one text must put a special token before and after it (like "[CLS] A [SEP]")');
  }

  const lookup = (key: string, fallbacks: string[]): number | undefined => {
    const named = settings.tokens[key]?.content;
    for (const t of named !== undefined ? [named, ...fallbacks] : fallbacks) {
      const id = tokenIds.get(t);
      if (id !== undefined) return id;
    }
    return undefined;
  };
  const padding = parsed.padding;
  const padFromFile = isRecord(padding) && typeof padding.pad_id === 'number' && byId.has(padding.pad_id) ? padding.pad_id : undefined;
  // No pad token at all: pad with the sep id (padding is masked out, any id would do).
  const pad = padFromFile ?? lookup('pad_token', ['[PAD]', '<pad>', '<|padding|>']) ?? after.special[after.special.length - 1];
  const mask = lookup('mask_token', ['[MASK]', '<mask>']) ?? null;

  let vocabSize = 0;
  for (const id of byId.keys()) if (id + 1 > vocabSize) vocabSize = id + 1;

  // Pre-tokenizer fixes: Metaspace without prepend_scheme follows its add_prefix_space.
  const fixPre = (p: unknown): unknown => {
    if (!isRecord(p)) return p;
    if (p.type === 'Metaspace' && p.prepend_scheme === undefined) return { ...p, prepend_scheme: p.add_prefix_space === false ? 'never' : 'always' };
    if (p.type === 'Sequence' && Array.isArray(p.pretokenizers)) return { ...p, pretokenizers: p.pretokenizers.map(fixPre) };
    return p;
  };

  // The library expects every component key (null when absent); the post-processor, truncation
  // and padding are ours.
  const libJson = {
    ...parsed,
    truncation: null,
    padding: null,
    added_tokens: addedJson,
    normalizer: parsed.normalizer ?? null,
    pre_tokenizer: fixPre(parsed.pre_tokenizer ?? null),
    post_processor: null,
    decoder: parsed.decoder ?? (modelType === 'WordPiece' ? { type: 'WordPiece', prefix: '##', cleanup: true } : null),
    model: libModel,
  };
  const libConfig: Record<string, unknown> = {};
  if (settings.cleanUpTokenizationSpaces !== undefined) libConfig.clean_up_tokenization_spaces = settings.cleanUpTokenizationSpaces;
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(libJson, libConfig);
  } catch (e) {
    throw fail(`cannot build the tokenizer (${(e as Error).message})`);
  }
  fixByteLevelWhitespace(tok.pre_tokenizer);

  const added: AddedEntry[] = addedJson.map((a) => {
    const special = a.special === true;
    return {
      id: a.id as number,
      content: a.content as string,
      lstrip: a.lstrip === true,
      rstrip: a.rstrip === true,
      singleWord: a.single_word === true,
      special,
      normalized: typeof a.normalized === 'boolean' ? a.normalized : !special,
    };
  });
  const maskToken = mask === null ? null : byId.get(mask)!;
  return { tok, modelType, template, ids: { pad, unk, mask }, maskToken, vocabSize, added, lowerSigma: lowercases(parsed.normalizer) };
}

/** tokenizer_config.json keys of the special tokens a vocab.txt tokenizer matches whole. */
const TOKEN_KEYS_OF_SPECIALS = ['cls_token', 'sep_token', 'pad_token', 'unk_token', 'mask_token', 'bos_token', 'eos_token'] as const;

export class EncoderTokenizer {
  /** Number of ids (highest id + 1, added tokens included). */
  readonly vocabSize: number;
  readonly padId: number;
  /** Id the model gives unknown text; null when it has none (byte-level BPE covers every byte). */
  readonly unkId: number | null;
  /** The special token before the text (`[CLS]`, `<s>`). */
  readonly clsId: number;
  /** The special token after the text (`[SEP]`, `</s>`). */
  readonly sepId: number;
  /** `[MASK]` / `<mask>` id; null when the vocabulary has none. */
  readonly maskId: number | null;
  readonly maskToken: string | null;
  /** Whether pairs give the second text another token type id (BERT: yes; RoBERTa, XLM-R, ModernBERT: no). */
  readonly pairTypeIds: boolean;
  /** The tokenizer model: WordPiece, BPE or Unigram. */
  readonly modelType: ModelType;
  /** Model limit on tokens per sequence, specials included. */
  readonly maxLength: number;
  /** Where the vocabulary came from (for messages). */
  readonly source: string;

  /**
   * Work done so far, for tests that check how much was done rather than how long it took:
   * characters run through normalizer, pre-tokenizer and model; characters scanned for the
   * word boundary where a long text is cut before tokenizing (see runTruncated).
   */
  readonly stats = { charactersTokenized: 0, charactersScanned: 0 };

  private readonly tok: Tokenizer;
  private readonly template: Template;
  private readonly specialIdSet: Set<number>;
  private readonly rawSplitter: AddedTokenSplitter;
  private readonly normalizedSplitter: AddedTokenSplitter;
  private readonly lowerSigma: boolean;
  private readonly unkOrUndefined: number | undefined;
  private readonly spm: Built['spm'];

  private constructor(b: Built, maxLength: number, source: string) {
    this.tok = b.tok;
    this.spm = b.spm;
    this.template = b.template;
    this.modelType = b.modelType;
    this.padId = b.ids.pad;
    this.unkId = b.ids.unk;
    this.unkOrUndefined = b.ids.unk ?? undefined;
    const single = b.template.single;
    const aAt = single.findIndex((p) => 'sequence' in p);
    const before = single[aAt - 1] as { special: number[] };
    const after = single[aAt + 1] as { special: number[] };
    this.clsId = before.special[before.special.length - 1];
    this.sepId = after.special[0];
    this.maskId = b.ids.mask;
    this.maskToken = b.maskToken;
    this.pairTypeIds = b.template.pair.some((p) => p.typeId !== 0);
    this.vocabSize = b.vocabSize;
    this.maxLength = maxLength;
    this.source = source;
    this.lowerSigma = b.lowerSigma;
    this.specialIdSet = new Set(b.added.filter((a) => a.special).map((a) => a.id));
    const normalizer = this.tok.normalizer;
    this.rawSplitter = new AddedTokenSplitter(b.added.filter((a) => !a.normalized || !normalizer).map((entry) => ({ key: entry.content, entry })));
    this.normalizedSplitter = new AddedTokenSplitter(
      b.added.filter((a) => a.normalized && normalizer).map((entry) => ({ key: this.normalize(entry.content), entry })),
    );
  }

  /** From a Hub `tokenizer.json` (its text or the parsed object): WordPiece, BPE or Unigram. */
  static fromTokenizerJson(json: string | object, source = 'tokenizer.json', opts: TokenizerFileOptions = {}): EncoderTokenizer {
    const maxLength = checkMaxLength(opts.maxLength ?? DEFAULT_MAX_LENGTH, 'maxLength');
    const settings = readSettings(opts.tokenizerConfig, opts.specialTokensMap);
    const parsed = parseJsonFile(json, source);
    return new EncoderTokenizer(buildFromJson(parsed, source, settings), maxLength, source);
  }

  /** From the text of a BERT `vocab.txt` (one token per line, line index = id); lowercases per `do_lower_case` (default true). */
  static fromVocabTxt(text: string, source = 'vocab.txt', opts: TokenizerFileOptions = {}): EncoderTokenizer {
    const maxLength = checkMaxLength(opts.maxLength ?? DEFAULT_MAX_LENGTH, 'maxLength');
    const settings = readSettings(opts.tokenizerConfig, opts.specialTokensMap);
    const lines = parseVocabTxt(text, source);
    // Specials named by the config replace BERT's (MPNet's vocab.txt: <s> A </s>, <mask> with lstrip).
    const t = settings.tokens;
    const inVocab = (x: string | undefined) => x !== undefined && lines.includes(x);
    const specials =
      t.cls_token && t.sep_token && inVocab(t.cls_token.content) && inVocab(t.sep_token.content) && (t.cls_token.content !== '[CLS]' || t.sep_token.content !== '[SEP]')
        ? {
            cls: t.cls_token.content,
            sep: t.sep_token.content,
            unk: inVocab(t.unk_token?.content) ? t.unk_token!.content : undefined,
            all: TOKEN_KEYS_OF_SPECIALS.map((k) => t[k]?.content).filter((x): x is string => inVocab(x)),
            lstrip: TOKEN_KEYS_OF_SPECIALS.filter((k) => t[k]?.lstrip).map((k) => t[k]!.content),
            pairStyle: /^MPNet/.test(settings.tokenizerClass ?? '') ? ('roberta' as const) : ('bert' as const),
          }
        : undefined;
    const json = buildBertTokenizerJson(lines, {
      lowercase: settings.doLowerCase ?? true,
      handleChineseChars: settings.tokenizeChineseChars ?? true,
      stripAccents: settings.stripAccents ?? null,
      specials,
    }) as Record<string, unknown>;
    return new EncoderTokenizer(buildFromJson(json, source, settings), maxLength, source);
  }

  /** From RoBERTa / GPT-2 `vocab.json` + `merges.txt` (byte-level BPE, `<s> A </s>` template). */
  static fromVocabJsonAndMerges(vocabJson: string | object, mergesTxt: string, opts: TokenizerFileOptions = {}): EncoderTokenizer {
    const maxLength = checkMaxLength(opts.maxLength ?? DEFAULT_MAX_LENGTH, 'maxLength');
    const settings = readSettings(opts.tokenizerConfig, opts.specialTokensMap);
    const vocab = parseVocabJson(vocabJson);
    const merges = parseMergesTxt(mergesTxt);
    const source = 'vocab.json + merges.txt';
    const json = buildRobertaTokenizerJson(vocab, merges, settings, source) as Record<string, unknown>;
    return new EncoderTokenizer(buildFromJson(json, source, settings), maxLength, source);
  }

  /**
   * From a SentencePiece Unigram `spm.model` (DeBERTa-v3, mDeBERTa) with no tokenizer.json, as
   * DebertaV2Tokenizer runs it: special tokens in the text are matched whole, every other section
   * goes through SentencePiece exactly as spm_encode (src/tokenizer/spm.ts); template
   * `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]` (B typed 1) from cls_token / sep_token, else the
   * model's bos / eos pieces. A mask token that is not a piece ([MASK] in DeBERTa-v3) gets its id
   * from added_tokens.json or tokenizer_config.json added_tokens_decoder, else the next id.
   */
  static fromSpmModel(bytes: Uint8Array, source = 'spm.model', opts: TokenizerFileOptions & { addedTokensJson?: string | null } = {}): EncoderTokenizer {
    const maxLength = checkMaxLength(opts.maxLength ?? DEFAULT_MAX_LENGTH, 'maxLength');
    const settings = readSettings(opts.tokenizerConfig, opts.specialTokensMap);
    const model = parseSpmModel(bytes, source);
    const unigram = new SpmUnigram(model, source);
    const pieceId = new Map(model.pieces.map((p, i) => [p.piece, i] as const));
    const fail = (msg: string) => new CheckpointError(`${source}: ${msg}`);
    // Ids of added tokens that are not pieces: added_tokens.json, tokenizer_config added_tokens_decoder.
    const extraIds = new Map<string, number>();
    if (opts.addedTokensJson) {
      for (const [t, id] of Object.entries(parseJsonFile(opts.addedTokensJson, 'added_tokens.json'))) {
        if (typeof id !== 'number' || !Number.isInteger(id) || id < model.pieces.length) throw new CheckpointError(`added_tokens.json: ${JSON.stringify(t)} has id ${JSON.stringify(id)}, expected an integer >= ${model.pieces.length}`);
        extraIds.set(t, id);
      }
    }
    const cfg = opts.tokenizerConfig == null ? {} : parseJsonFile(opts.tokenizerConfig, 'tokenizer_config.json');
    const decoder = cfg.added_tokens_decoder;
    if (decoder && typeof decoder === 'object') {
      for (const [id, entry] of Object.entries(decoder as Record<string, { content?: unknown }>)) {
        if (typeof entry?.content === 'string' && !pieceId.has(entry.content) && Number.isInteger(Number(id))) extraIds.set(entry.content, Number(id));
      }
    }
    const named = (key: string, fallback: number) => {
      const content = settings.tokens[key]?.content;
      if (content === undefined) return fallback >= 0 && fallback < model.pieces.length ? model.pieces[fallback].piece : undefined;
      return content;
    };
    const cls = named('cls_token', model.bosId);
    const sep = named('sep_token', model.eosId);
    if (cls === undefined || sep === undefined) throw fail('no cls_token / sep_token in tokenizer_config.json and no bos / eos piece to build [CLS] A [SEP] from');
    // Specials matched whole in the text: the model's control and unknown pieces, and the named tokens.
    const added: Record<string, unknown>[] = [];
    const addedIds = new Set<number>();
    const addSpecial = (content: string, id: number, lstrip = false) => {
      if (addedIds.has(id)) return;
      addedIds.add(id);
      added.push({ id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true });
    };
    model.pieces.forEach((p, id) => {
      if (p.type === SPM_PIECE_TYPE.control || p.type === SPM_PIECE_TYPE.unknown) addSpecial(p.piece, id);
    });
    let nextId = Math.max(model.pieces.length, ...[...extraIds.values()].map((id) => id + 1));
    for (const key of ['cls_token', 'sep_token', 'pad_token', 'unk_token', 'mask_token', 'bos_token', 'eos_token']) {
      const t = settings.tokens[key];
      if (!t) continue;
      const id = pieceId.get(t.content) ?? extraIds.get(t.content) ?? nextId++;
      if (id >= model.pieces.length) extraIds.set(t.content, id);
      addSpecial(t.content, id, t.lstrip);
    }
    const idOf = (t: string) => pieceId.get(t) ?? extraIds.get(t);
    const clsId = idOf(cls);
    const sepId = idOf(sep);
    if (clsId === undefined || sepId === undefined) throw fail(`cls / sep tokens ${JSON.stringify(cls)} / ${JSON.stringify(sep)} are not pieces of the model`);
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: model.normalizer.addDummyPrefix ? 'always' : 'never', split: true },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
        pair: [
          { SpecialToken: { id: cls, type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: sep, type_id: 0 } },
          { Sequence: { id: 'B', type_id: 1 } },
          { SpecialToken: { id: sep, type_id: 1 } },
        ],
        special_tokens: { [cls]: { id: cls, ids: [clsId], tokens: [cls] }, [sep]: { id: sep, ids: [sepId], tokens: [sep] } },
      },
      decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
      model: { type: 'Unigram', unk_id: model.unkId, vocab: model.pieces.map((p) => [p.piece, p.score]), byte_fallback: model.byteFallback },
    };
    const built = buildFromJson(json, source, settings);
    return new EncoderTokenizer({ ...built, spm: { unigram, lowercase: settings.doLowerCase ?? false } }, maxLength, source);
  }

  /** From a checkpoint's tokenizer files: tokenizer.json first, else vocab.txt, else vocab.json + merges.txt, else spm.model. */
  static fromFiles(files: TokenizerFileTexts, opts: TokenizerOptions = {}): EncoderTokenizer {
    const extra = { ...opts, tokenizerConfig: files.tokenizerConfig ?? null, specialTokensMap: files.specialTokensMap ?? null };
    if (files.tokenizerJson != null) return EncoderTokenizer.fromTokenizerJson(files.tokenizerJson, 'tokenizer.json', extra);
    if (files.vocabTxt != null) return EncoderTokenizer.fromVocabTxt(files.vocabTxt, 'vocab.txt', extra);
    if (files.vocabJson != null && files.mergesTxt != null) return EncoderTokenizer.fromVocabJsonAndMerges(files.vocabJson, files.mergesTxt, extra);
    if (files.spmModel != null) return EncoderTokenizer.fromSpmModel(files.spmModel, 'spm.model', { ...extra, addedTokensJson: files.addedTokensJson ?? null });
    if (files.vocabJson != null || files.mergesTxt != null) {
      throw new CheckpointError(`${files.vocabJson != null ? 'merges.txt' : 'vocab.json'} is missing: a byte-level BPE tokenizer needs both vocab.json and merges.txt`);
    }
    throw new CheckpointError('no tokenizer files: the checkpoint needs tokenizer.json or vocab.txt (or vocab.json + merges.txt, or spm.model)');
  }

  private normalize(text: string): string {
    const n = this.tok.normalizer;
    if (!n) return text;
    return n.normalize(this.lowerSigma ? text.replace(/\u03a3/g, '\u03c3') : text);
  }

  /** Tokens and ids of one text, without specials. */
  private run(text: string, tokens: string[] | null): number[] {
    this.stats.charactersTokenized += text.length;
    const ids: number[] = [];
    const model = this.tok.model!;
    const pre = this.tok.pre_tokenizer;
    const emit = (id: number, token: string) => {
      ids.push(id);
      tokens?.push(token);
    };
    this.rawSplitter.split(text).forEach((section, sectionIndex) => {
      if (typeof section !== 'string') return emit(section.id, section.content);
      if (this.spm) {
        for (const id of this.spm.unigram.encode(this.spm.lowercase ? section.toLowerCase() : section)) emit(id, this.spm.unigram.model.pieces[id].piece);
        return;
      }
      const normalized = this.normalize(section);
      if (normalized.length === 0) return;
      for (const sub of this.normalizedSplitter.split(normalized)) {
        if (typeof sub !== 'string') {
          emit(sub.id, sub.content);
          continue;
        }
        const words = pre ? pre.pre_tokenize(sub, { section_index: sectionIndex }) : [sub];
        for (const t of model._call(words)) {
          const id = model.tokens_to_ids.get(t) ?? this.unkOrUndefined;
          if (id !== undefined) emit(id, t);
        }
      }
    });
    return ids;
  }

  private checkText(text: unknown, what: string): asserts text is string {
    if (typeof text !== 'string') throw new InputError(`${what} must be a string, got ${describe(text)}`);
  }

  /**
   * Ids of `text` (no specials), possibly cut short: when the text is long enough that its first
   * 2 * limit + 16 whitespace-separated words lie well before its end, only those words are
   * tokenized (cut just before a whitespace). Every tokenizer here tokenizes word by word (the
   * normalizers act per character, the pre-tokenizers split at whitespace), so the ids of the
   * prefix are the first ids of the whole text; and as each word gives at least one token, the
   * prefix still has more than `limit` of them, so truncation keeps exactly what it would keep
   * from the whole text. Returns null (tokenize the whole text) when the text is short, or
   * when the prefix gives `limit` ids or fewer (words a normalizer removes entirely).
   */
  private runTruncated(text: string, limit: number): number[] | null {
    const words = 2 * limit + 16;
    if (text.length <= 16 * words) return null;
    const word = /\S+/g;
    let end = -1;
    for (let i = 0; i < words; i++) {
      const m = word.exec(text);
      if (!m) return null;
      end = m.index + m[0].length;
    }
    this.stats.charactersScanned += end;
    if (end >= text.length) return null;
    const ids = this.run(text.slice(0, end), null);
    return ids.length > limit ? ids : null;
  }

  /** Ids of one text without the template's specials. */
  encodeBody(text: string): number[] {
    this.checkText(text, 'encodeBody: text');
    return this.run(text, null);
  }

  /** Ids of one text with the template's specials (`[CLS] A [SEP]`, `<s> A </s>`), no truncation. */
  encode(text: string): number[] {
    this.checkText(text, 'encode: text');
    return applyTemplate(this.template.single, this.run(text, null), null).ids;
  }

  /**
   * Ids and token type ids of a pair (`[CLS] A [SEP] B [SEP]`, `<s> A </s></s> B </s>`), no
   * truncation. An empty second text is still a pair (as the Rust crate and transformers' batch
   * calls do; a single transformers `tokenizer(a, "")` drops it).
   */
  encodePair(text: string, textPair: string): { ids: number[]; typeIds: number[] } {
    this.checkText(text, 'encodePair: text');
    this.checkText(textPair, 'encodePair: textPair');
    return applyTemplate(this.template.pair, this.run(text, null), this.run(textPair, null));
  }

  /** Tokens (vocabulary strings); without specials unless `addSpecial` (HF `tokenize` convention). */
  tokenize(text: string, opts: { addSpecial?: boolean } = {}): string[] {
    this.checkText(text, 'tokenize: text');
    const toks: string[] = [];
    const ids = this.run(text, toks);
    if (!opts.addSpecial) return toks;
    return applyTemplate(this.template.single, ids, null).ids.map((id, i) => this.idToToken(id) ?? toks[i]);
  }

  /** Whether `id` is a special token (tokenizer.all_special_ids in transformers). */
  isSpecialId(id: number): boolean {
    return this.specialIdSet.has(id) || id === this.clsId || id === this.sepId || id === this.padId || id === this.maskId;
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

  /** Specials the template adds to one text (`single`) or a pair. */
  specialTokenCount(pair = false): number {
    return specialCount(pair ? this.template.pair : this.template.single);
  }

  /**
   * Each input (a text, or a `[text, textPair]` pair) with its specials, unpadded. Inputs over
   * `maxLength` are cut (texts: `[CLS] first tokens [SEP]`; pairs: longest_first), or throw
   * `TokenLimitError` naming the input's index when `truncation` is false.
   */
  encodeEach(inputs: readonly TokenizerInput[], opts: EncodeBatchOptions = {}): EncodedRows {
    if (!Array.isArray(inputs)) throw new InputError(`encodeBatch: texts must be an array of strings or [text, textPair] pairs, got ${describe(inputs)}`);
    if (inputs.length === 0) throw new InputError('encodeBatch: empty batch (texts.length === 0); pass at least one text');
    let limit = this.maxLength;
    if (opts.maxLength !== undefined) {
      limit = checkMaxLength(opts.maxLength, 'maxLength');
      if (limit > this.maxLength) throw new InputError(`maxLength ${limit} is over the model limit of ${this.maxLength}`);
    }
    const truncation = opts.truncation ?? true;
    const n = inputs.length;
    const ids: number[][] = new Array(n);
    const typeIds: number[][] = new Array(n);
    const truncated: boolean[] = new Array(n);
    // With truncation on, a text far longer than the limit is tokenized only as far as can be
    // kept (a 50 MB line costs what its first few thousand words cost).
    const run = (text: string) => (truncation ? this.runTruncated(text, limit) : null) ?? this.run(text, null);
    for (let b = 0; b < n; b++) {
      const input = inputs[b] as unknown;
      let a: number[];
      let p: number[] | null = null;
      if (typeof input === 'string') {
        a = run(input);
      } else if (Array.isArray(input) && input.length === 2 && typeof input[0] === 'string' && typeof input[1] === 'string') {
        // longest_first depends on which body is longer: a cut body must still be the longer
        // one (else, or when both were cut, the whole texts are tokenized).
        const cutA = truncation ? this.runTruncated(input[0], limit) : null;
        const cutP = truncation ? this.runTruncated(input[1], limit) : null;
        a = cutA ?? this.run(input[0], null);
        p = cutP ?? this.run(input[1], null);
        if ((cutA && (cutP || a.length <= p.length)) || (cutP && p.length < a.length)) {
          a = cutA ? this.run(input[0], null) : a;
          p = cutP ? this.run(input[1], null) : p;
        }
      } else {
        throw new InputError(`encodeBatch: texts[${b}] is not a string or a [text, textPair] pair of strings (got ${describe(input)})`);
      }
      const pieces = p ? this.template.pair : this.template.single;
      const specials = specialCount(pieces);
      const total = a.length + (p ? p.length : 0) + specials;
      truncated[b] = total > limit;
      if (truncated[b]) {
        if (!truncation) throw new TokenLimitError(b, total, limit);
        const budget = limit - specials;
        if (budget < 0) throw new InputError(`maxLength ${limit} leaves no room for the ${specials} special tokens of ${p ? 'a pair' : 'a text'}`);
        if (p) {
          const [n1, n2] = longestFirst(a.length, p.length, budget);
          a = a.slice(0, n1);
          p = p.slice(0, n2);
        } else {
          a = a.slice(0, budget);
        }
      }
      const row = applyTemplate(pieces, a, p);
      ids[b] = row.ids;
      typeIds[b] = row.typeIds;
    }
    return { ids, typeIds, truncated };
  }

  /** Right-padded batch of `encodeEach`'s rows, with the attention mask and token type ids. */
  encodeBatch(inputs: readonly TokenizerInput[], opts: EncodeBatchOptions = {}): EncodedBatch {
    const { ids, typeIds, truncated } = this.encodeEach(inputs, opts);
    const batch = ids.length;
    const lengths = ids.map((row) => row.length);
    const seqLen = Math.max(...lengths);
    const inputIds = new Int32Array(batch * seqLen);
    const attentionMask = new Int32Array(batch * seqLen);
    const tokenTypeIds = new Int32Array(batch * seqLen);
    if (this.padId !== 0) inputIds.fill(this.padId);
    for (let b = 0; b < batch; b++) {
      inputIds.set(ids[b], b * seqLen);
      tokenTypeIds.set(typeIds[b], b * seqLen);
      attentionMask.fill(1, b * seqLen, b * seqLen + lengths[b]);
    }
    return { inputIds, attentionMask, tokenTypeIds, batch, seqLen, lengths, truncated };
  }
}

/** The former name (NeoBERT was the first model); same class. */
export { EncoderTokenizer as NeoBERTTokenizer };
