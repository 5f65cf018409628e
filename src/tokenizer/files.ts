/**
 * Reading tokenizer files other than tokenizer.json (vocab.txt; vocab.json + merges.txt;
 * tokenizer_config.json; special_tokens_map.json) and building the tokenizer.json they stand for,
 * as transformers' converters do (BertTokenizerFast, RobertaTokenizerFast).
 */
import { CheckpointError } from '../errors';

/** The special tokens a BERT WordPiece vocabulary must have. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parses a JSON file's text (or passes an object through); CheckpointError naming the file otherwise. */
export function parseJsonFile(json: unknown, source: string): Record<string, unknown> {
  let parsed = json;
  if (typeof json === 'string') {
    try {
      parsed = JSON.parse(json.charCodeAt(0) === 0xfeff ? json.slice(1) : json);
    } catch (e) {
      throw new CheckpointError(`${source}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isRecord(parsed)) throw new CheckpointError(`${source}: expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`);
  return parsed;
}

/** Settings read from tokenizer_config.json and special_tokens_map.json (the first wins). */
export interface TokenizerSettings {
  /** Named special tokens: cls_token, sep_token, pad_token, mask_token, unk_token, bos_token, eos_token. */
  tokens: Record<string, { content: string; lstrip: boolean; rstrip: boolean; singleWord: boolean } | undefined>;
  doLowerCase?: boolean;
  tokenizeChineseChars?: boolean;
  stripAccents?: boolean | null;
  addPrefixSpace?: boolean;
  cleanUpTokenizationSpaces?: boolean;
  /** tokenizer_config.json tokenizer_class, e.g. "MPNetTokenizer" (its vocab.txt template is `<s> A </s></s> B </s>`). */
  tokenizerClass?: string;
}

const TOKEN_KEYS = ['cls_token', 'sep_token', 'pad_token', 'mask_token', 'unk_token', 'bos_token', 'eos_token'] as const;

export function readSettings(tokenizerConfig: unknown, specialTokensMap: unknown): TokenizerSettings {
  const cfg = tokenizerConfig == null ? {} : parseJsonFile(tokenizerConfig, 'tokenizer_config.json');
  const map = specialTokensMap == null ? {} : parseJsonFile(specialTokensMap, 'special_tokens_map.json');
  const tokens: TokenizerSettings['tokens'] = {};
  for (const key of TOKEN_KEYS) {
    for (const [obj, file] of [[cfg, 'tokenizer_config.json'], [map, 'special_tokens_map.json']] as const) {
      const v = obj[key];
      if (v === undefined || v === null || tokens[key]) continue;
      if (typeof v === 'string') tokens[key] = { content: v, lstrip: false, rstrip: false, singleWord: false };
      else if (isRecord(v) && typeof v.content === 'string') {
        tokens[key] = { content: v.content, lstrip: v.lstrip === true, rstrip: v.rstrip === true, singleWord: v.single_word === true };
      } else throw new CheckpointError(`${file}: ${key} must be a string or {"content": ...}, got ${JSON.stringify(v)}`);
    }
  }
  const bool = (k: string): boolean | undefined => {
    const v = cfg[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new CheckpointError(`tokenizer_config.json: ${k} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const stripAccents = cfg.strip_accents;
  if (stripAccents !== undefined && stripAccents !== null && typeof stripAccents !== 'boolean') {
    throw new CheckpointError(`tokenizer_config.json: strip_accents must be true, false or null, got ${JSON.stringify(stripAccents)}`);
  }
  return {
    tokens,
    doLowerCase: bool('do_lower_case'),
    tokenizeChineseChars: bool('tokenize_chinese_chars'),
    stripAccents: stripAccents as boolean | null | undefined,
    addPrefixSpace: bool('add_prefix_space'),
    cleanUpTokenizationSpaces: bool('clean_up_tokenization_spaces'),
    tokenizerClass: typeof cfg.tokenizer_class === 'string' ? cfg.tokenizer_class : undefined,
  };
}

/** Splits vocab.txt text into tokens (line index = id) and validates it. */
export function parseVocabTxt(text: string, source: string): string[] {
  if (typeof text !== 'string') throw new CheckpointError(`${source}: expected the file's text, got ${typeof text}`);
  let body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // A final newline ends the last token; it does not start an empty one.
  if (body.endsWith('\n')) body = body.slice(0, -1);
  if (body.endsWith('\r')) body = body.slice(0, -1);
  if (body.length === 0) throw new CheckpointError(`${source}: vocabulary is empty`);
  const lines = body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  validateVocabLines(lines, source);
  return lines;
}

export function validateVocabLines(lines: string[], source: string): void {
  if (!Array.isArray(lines) || lines.length === 0) throw new CheckpointError(`${source}: vocabulary is empty`);
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const tok = lines[i];
    if (typeof tok !== 'string') throw new CheckpointError(`${source}: line ${i + 1} is not a string`);
    if (tok.length === 0) {
      throw new CheckpointError(`${source}: line ${i + 1} is empty (an empty line would shift every later token id)`);
    }
    const prev = seen.get(tok);
    if (prev !== undefined) {
      throw new CheckpointError(`${source}: duplicate token ${JSON.stringify(tok)} on lines ${prev + 1} and ${i + 1}`);
    }
    seen.set(tok, i);
  }
  const missing = SPECIAL_TOKENS.filter((t) => !seen.has(t));
  if (missing.length > 0) throw new CheckpointError(`${source}: vocabulary lacks special token(s) ${missing.join(' ')}`);
}

export function specialTokenEntry(content: string, id: number, lstrip = false) {
  return { id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true };
}

export interface BertJsonOptions {
  /** BertNormalizer lowercase (tokenizer_config `do_lower_case`); default true. */
  lowercase?: boolean;
  /** tokenizer_config `tokenize_chinese_chars`; default true. */
  handleChineseChars?: boolean;
  /** tokenizer_config `strip_accents`; default null (follow lowercase). */
  stripAccents?: boolean | null;
  /**
   * The special tokens when tokenizer_config.json / special_tokens_map.json name them (default:
   * BERT's [CLS] [SEP] [PAD] [UNK] [MASK]): cls and sep build the template, `all` are matched whole
   * in the text (`lstrip` ones with the spaces before them), pairStyle 'roberta' is MPNetTokenizer's
   * `cls A sep sep B sep` with type ids 0.
   */
  specials?: { cls: string; sep: string; unk?: string; all: string[]; lstrip?: string[]; pairStyle: 'bert' | 'roberta' };
}

/**
 * Builds a Hub-format BERT WordPiece `tokenizer.json` object (JSON-serialisable) from the lines
 * of a vocab.txt (line index = token id). Validates the lines like `fromVocabTxt`.
 */
export function buildBertTokenizerJson(vocabLines: string[], opts: BertJsonOptions = {}): object {
  validateVocabLines(vocabLines, 'vocab');
  const vocab: Record<string, number> = Object.create(null);
  vocabLines.forEach((t, i) => {
    vocab[t] = i;
  });
  // The special tokens: BERT's five, or those tokenizer_config.json names (MPNet: <s> </s> <pad> <mask> [UNK]).
  const named = opts.specials;
  const clsToken = named?.cls ?? '[CLS]';
  const sepToken = named?.sep ?? '[SEP]';
  const cls = vocab[clsToken];
  const sep = vocab[sepToken];
  const specials = named ? named.all.filter((t) => vocab[t] !== undefined) : [...SPECIAL_TOKENS];
  const added = [...new Set(specials)].map((t) => ({ ...specialTokenEntry(t, vocab[t]), lstrip: named?.lstrip?.includes(t) ?? false }));
  // MPNetTokenizer: cls A sep sep B sep, type ids all 0 (RobertaProcessing); BERT: [CLS] A [SEP] B [SEP], B typed 1.
  const roberta = named?.pairStyle === 'roberta';
  const pairB = roberta ? 0 : 1;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.sort((a, b) => a.id - b.id),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: opts.handleChineseChars ?? true,
      strip_accents: opts.stripAccents ?? null,
      lowercase: opts.lowercase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: clsToken, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sepToken, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: clsToken, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sepToken, type_id: 0 } },
        ...(roberta ? [{ SpecialToken: { id: sepToken, type_id: 0 } }] : []),
        { Sequence: { id: 'B', type_id: pairB } },
        { SpecialToken: { id: sepToken, type_id: pairB } },
      ],
      special_tokens: {
        [clsToken]: { id: clsToken, ids: [cls], tokens: [clsToken] },
        [sepToken]: { id: sepToken, ids: [sep], tokens: [sepToken] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: named?.unk ?? '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/** vocab.json: token -> id. */
export function parseVocabJson(text: unknown, source = 'vocab.json'): Record<string, number> {
  const vocab = parseJsonFile(text, source);
  const entries = Object.entries(vocab);
  if (entries.length === 0) throw new CheckpointError(`${source}: vocabulary is empty`);
  const byId = new Map<number, string>();
  for (const [t, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new CheckpointError(`${source}: token ${JSON.stringify(t)} has invalid id ${JSON.stringify(id)}`);
    }
    const other = byId.get(id);
    if (other !== undefined) throw new CheckpointError(`${source}: id ${id} is used by both ${JSON.stringify(other)} and ${JSON.stringify(t)}`);
    byId.set(id, t);
  }
  return vocab as Record<string, number>;
}

/** merges.txt: one "left right" pair a line, after an optional "#version" line. */
export function parseMergesTxt(text: unknown, source = 'merges.txt'): string[] {
  if (typeof text !== 'string') throw new CheckpointError(`${source}: expected the file's text, got ${typeof text}`);
  const lines = text.split('\n');
  const merges: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (i === 0 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.length === 0) continue;
    if (i === 0 && line.startsWith('#version')) continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new CheckpointError(`${source}: line ${i + 1} is not "left right": ${JSON.stringify(line.slice(0, 80))}`);
    }
    merges.push(line);
  }
  if (merges.length === 0) throw new CheckpointError(`${source}: no merges`);
  return merges;
}

/**
 * The tokenizer.json of a RoBERTa / GPT-2 byte-level BPE given as vocab.json + merges.txt, as
 * RobertaTokenizerFast builds it: no normalizer, ByteLevel pre-tokenizer (no prefix space unless
 * the config says so), the `<s> A </s>` / `<s> A </s></s> B </s>` template, `<mask>` with lstrip.
 */
export function buildRobertaTokenizerJson(vocab: Record<string, number>, merges: string[], settings: TokenizerSettings, source: string): object {
  const t = settings.tokens;
  const named = (key: string, fallback: string, lstrip = false) => t[key] ?? { content: fallback, lstrip, rstrip: false, singleWord: false };
  const cls = named('cls_token', named('bos_token', '<s>').content);
  const sep = named('sep_token', named('eos_token', '</s>').content);
  const specials = [named('bos_token', '<s>'), named('pad_token', '<pad>'), named('eos_token', '</s>'), named('unk_token', '<unk>'), cls, sep, named('mask_token', '<mask>', true)];
  const added = new Map<string, object>();
  for (const s of specials) {
    const id = vocab[s.content];
    if (id === undefined || added.has(s.content)) continue;
    added.set(s.content, { id, content: s.content, single_word: s.singleWord, lstrip: s.lstrip, rstrip: s.rstrip, normalized: false, special: true });
  }
  for (const [name, tok] of [['cls', cls], ['sep', sep]] as const) {
    if (vocab[tok.content] === undefined) throw new CheckpointError(`${source}: the ${name} token ${JSON.stringify(tok.content)} is not in the vocabulary`);
  }
  const addPrefixSpace = settings.addPrefixSpace ?? false;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added.values()],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [sep.content, vocab[sep.content]],
      cls: [cls.content, vocab[cls.content]],
      trim_offsets: true,
      add_prefix_space: addPrefixSpace,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges },
  };
}
