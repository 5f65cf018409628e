// Request bodies of every route, checked field by field before anything is queued: a wrong type
// or value is a 422 naming the field, an empty batch a 400, a batch over --max-client-batch-size a
// 413 (text-embeddings-inference's codes). Field names and defaults are TEI's (router/src/http/
// types.rs) and OpenAI's (POST /v1/embeddings); unknown fields are ignored, as serde does there.
import { empty, tooLarge, validation } from './http-error';

export type TruncationDirection = 'left' | 'right';

/** One input of /embed or /v1/embeddings: a text, or token ids used as given. */
export type EmbedInput = string | number[];
/** One input of /predict: a text or a [text, text_pair] pair. */
export type PredictInput = string | [string, string];

export interface TruncateOptions {
  truncate: boolean;
  direction: TruncationDirection;
}

export interface EmbedRequest extends TruncateOptions {
  inputs: EmbedInput[];
  normalize: boolean;
  promptName: string | null;
  dimensions: number | null;
}

export interface OpenAIEmbeddingsRequest extends TruncateOptions {
  inputs: EmbedInput[];
  model: string | null;
  encodingFormat: 'float' | 'base64';
  dimensions: number | null;
}

export interface RerankRequest extends TruncateOptions {
  query: string;
  texts: string[];
  rawScores: boolean;
  returnText: boolean;
}

export interface PredictRequest extends TruncateOptions {
  inputs: PredictInput[];
  /** Whether `inputs` was one input (the answer is then one list of predictions, not a list of them). */
  single: boolean;
  rawScores: boolean;
}

export interface TokenizeRequest {
  inputs: string[];
  single: boolean;
  addSpecialTokens: boolean;
  promptName: string | null;
}

export interface Limits {
  maxClientBatchSize: number;
  autoTruncate: boolean;
}

type Body = Record<string, unknown>;

const describe = (x: unknown) => (x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x);

function object(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw validation(`the request body must be a JSON object, got ${describe(body)}`);
  return body as Body;
}

function optionalBoolean(body: Body, name: string, fallback: boolean): boolean {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw validation(`\`${name}\` must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function optionalString(body: Body, name: string): string | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw validation(`\`${name}\` must be a string, got ${describe(v)}`);
  return v;
}

function optionalPositiveInt(body: Body, name: string): number | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw validation(`\`${name}\` must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function truncateOptions(body: Body, limits: Limits): TruncateOptions {
  const truncate = optionalBoolean(body, 'truncate', limits.autoTruncate);
  const d = body.truncation_direction;
  if (d === undefined || d === null) return { truncate, direction: 'right' };
  // TEI's enum is spelled Left / Right; the lowercase spelling of its docs is accepted too.
  if (typeof d !== 'string' || !['left', 'right'].includes(d.toLowerCase())) {
    throw validation(`\`truncation_direction\` must be "Left" or "Right", got ${JSON.stringify(d)}`);
  }
  return { truncate, direction: d.toLowerCase() as TruncationDirection };
}

function batchSize(n: number, what: string, limits: Limits): void {
  if (n === 0) throw empty(`\`${what}\` cannot be empty`);
  if (n > limits.maxClientBatchSize) throw tooLarge(`batch size ${n} > maximum allowed batch size ${limits.maxClientBatchSize}`);
}

const isTokenIds = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number');

/** TEI's Input: a text, token ids, or a list of texts and token id lists. */
function embedInputs(value: unknown, what: string, limits: Limits): EmbedInput[] {
  if (value === undefined) throw validation(`missing field \`${what}\``);
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) throw validation(`\`${what}\` must be a string, a list of strings, or token ids, got ${describe(value)}`);
  if (value.length > 0 && isTokenIds(value)) return [checkIds(value, `${what}`)];
  batchSize(value.length, what, limits);
  return value.map((x, i) => {
    if (typeof x === 'string') return x;
    if (isTokenIds(x)) return checkIds(x, `${what}[${i}]`);
    throw validation(`\`${what}[${i}]\` must be a string or a list of token ids, got ${describe(x)}`);
  });
}

function checkIds(ids: number[], what: string): number[] {
  if (ids.length === 0) throw empty(`\`${what}\` has no token ids`);
  const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0);
  if (bad >= 0) throw validation(`\`${what}[${bad}]\` = ${ids[bad]} is not a token id`);
  return ids;
}

export function parseEmbed(raw: unknown, limits: Limits): EmbedRequest {
  const body = object(raw);
  return {
    inputs: embedInputs(body.inputs, 'inputs', limits),
    normalize: optionalBoolean(body, 'normalize', true),
    promptName: optionalString(body, 'prompt_name'),
    dimensions: optionalPositiveInt(body, 'dimensions'),
    ...truncateOptions(body, limits),
  };
}

export function parseOpenAIEmbeddings(raw: unknown, limits: Limits): OpenAIEmbeddingsRequest {
  const body = object(raw);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw validation(`\`encoding_format\` must be "float" or "base64", got ${JSON.stringify(format)}`);
  return {
    inputs: embedInputs(body.input, 'input', limits),
    model: optionalString(body, 'model'),
    encodingFormat: format,
    dimensions: optionalPositiveInt(body, 'dimensions'),
    ...truncateOptions(body, limits),
  };
}

export function parseRerank(raw: unknown, limits: Limits): RerankRequest {
  const body = object(raw);
  if (typeof body.query !== 'string') throw validation(`\`query\` must be a string, got ${describe(body.query)}`);
  const texts = body.texts;
  if (!Array.isArray(texts)) throw validation(`\`texts\` must be a list of strings, got ${describe(texts)}`);
  batchSize(texts.length, 'texts', limits);
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw validation(`\`texts[${i}]\` must be a string, got ${describe(t)}`);
  });
  return {
    query: body.query,
    texts: texts as string[],
    rawScores: optionalBoolean(body, 'raw_scores', false),
    returnText: optionalBoolean(body, 'return_text', false),
    ...truncateOptions(body, limits),
  };
}

/** TEI's PredictInput: "text", ["text", "pair"], or a batch [["text"], ["text", "pair"], ...]. */
export function parsePredict(raw: unknown, limits: Limits): PredictRequest {
  const body = object(raw);
  const value = body.inputs;
  const shape = 'a string, a pair of strings [string, string], or a batch of them [[string], [string, string], ...]';
  const sequence = (x: unknown, what: string): PredictInput => {
    if (Array.isArray(x) && (x.length === 1 || x.length === 2) && x.every((s) => typeof s === 'string')) return x.length === 1 ? x[0] : [x[0], x[1]];
    throw validation(`\`${what}\` must be [string] or [string, string], got ${Array.isArray(x) ? `an array of ${x.length}` : describe(x)}`);
  };
  let inputs: PredictInput[];
  let single = true;
  if (value === undefined) throw validation('missing field `inputs`');
  if (typeof value === 'string') inputs = [value];
  else if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'string') {
    if (value.length > 2 || !value.every((s) => typeof s === 'string')) throw validation(`\`inputs\` must be ${shape}`);
    inputs = [value.length === 1 ? value[0] : [value[0], value[1]]];
  } else if (Array.isArray(value)) {
    single = false;
    batchSize(value.length, 'inputs', limits);
    inputs = value.map((x, i) => sequence(x, `inputs[${i}]`));
  } else throw validation(`\`inputs\` must be ${shape}, got ${describe(value)}`);
  return { inputs, single, rawScores: optionalBoolean(body, 'raw_scores', false), ...truncateOptions(body, limits) };
}

export function parseTokenize(raw: unknown, limits: Limits): TokenizeRequest {
  const body = object(raw);
  const value = body.inputs;
  let inputs: string[];
  let single = false;
  if (typeof value === 'string') {
    inputs = [value];
    single = true;
  } else if (Array.isArray(value)) {
    batchSize(value.length, 'inputs', limits);
    value.forEach((t, i) => {
      if (typeof t !== 'string') throw validation(`\`inputs[${i}]\` must be a string, got ${describe(t)}`);
    });
    inputs = value as string[];
  } else throw validation(`\`inputs\` must be a string or a list of strings, got ${describe(value)}`);
  return { inputs, single, addSpecialTokens: optionalBoolean(body, 'add_special_tokens', true), promptName: optionalString(body, 'prompt_name') };
}
