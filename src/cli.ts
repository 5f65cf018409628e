#!/usr/bin/env node
// neobert: command-line front end for every architecture the engine runs. Every failure prints one line "neobert: <reason>" on stderr
// and exits non-zero (2 for usage errors, 1 for everything else); outputs are written
// atomically, so a failed run never leaves a partial file.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { Encoder, type Pooling, type Precision } from './encoder';
import { PRECISIONS, truncateRows } from './api/postprocess';
import { readTokenizerFiles } from './checkpoint';
import { EncoderError } from './errors';
import { EncoderTokenizer } from './tokenizer';
import { parseSafetensors, serializeSafetensors, type SerializableTensor } from './safetensors';
import type { OutputName } from './runner';
import { BUNDLED_MODEL_DIR, sourceFor, writeFileAtomic } from './node/index';

const USAGE = `usage: neobert <command> [options]

commands (every architecture: NeoBERT, BERT, RoBERTa, XLM-RoBERTa):
  forward   --input IN.safetensors --output OUT.safetensors
            IN holds input_ids and attention_mask ([B,T], I64 or I32, right-padded) and, for
            sentence pairs, token_type_ids; OUT gets F32 last_hidden_state [B,T,C], pooled_cls
            [B,C], pooled_mean [B,C], pooler_output [B,C] when the checkpoint has a pooler,
            sentence_embedding [B,D] for a sentence-transformers folder (all its modules: Pooling,
            Dense, Normalize), and logits for an MLM ([B,T,V]) or classification ([B,labels]) head.
  tokenize  needs only the tokenizer files: one JSON string per stdin line -> one JSON array of
            ids per line; with --pair, one JSON array [text, text_pair] per line -> one JSON
            object {"input_ids": [...], "token_type_ids": [...]} per line.
  embed     reads texts, one per line, writes JSONL embeddings {"index": i, "embedding": [...]},
            each batch as soon as it is done, in input order; progress on stderr. A
            sentence-transformers folder's modules apply as SentenceTransformer.encode (else cls
            pooling, no normalisation). --prompt TEXT wins over --prompt-name NAME, which wins over
            the folder's default prompt; --prompt '' means none. --truncate-dim N keeps the first N
            dimensions (default: the folder's truncate_dim, else the config's: jina), --normalize
            then L2-normalises; --task NAME runs a task adapter (jina-embeddings-v3's
            retrieval.query, ...; its instruction is the prompt);
            --precision int8|uint8|binary|ubinary writes integers (int8 / uint8: ranges over all
            the input's embeddings, so the whole input is read first; binary: ceil(D/8) bytes).
            [--pooling cls|mean] [--batch-size N] [--max-length N] [--no-truncation]
  rank      --query TEXT: reads documents, one per line, ranks them with a one-label
            cross-encoder, writes JSONL {"index", "score", "logit"} best first; score = the
            folder's activation of the logit as CrossEncoder.rank (ms-marco: the logit itself;
            default sigmoid), the logit with --raw-scores. [--top-k N]
  classify  reads texts, one per line (JSONL: "text" and optional "text_pair"), writes JSONL
            {"index", "label", "score", "labels": [{label, score, logit}...]} batch by batch.
            [--top-k N]
            With --threshold P (a guardrail: allow/block), each line gets "decision" and the
            probability of the block labels as "score"; [--block-labels A,B] names them (default:
            label 1 of a two-label classifier). A summary of allow/block counts goes to stderr.
  info      prints the architecture, config, parameter count, dtypes, adapter and features as JSON.
  serve     an HTTP server for the model, text-embeddings-inference and OpenAI compatible:
            POST /embed /rerank /predict /tokenize /v1/embeddings, GET /info /health /metrics;
            requests that arrive together share packed forwards. Stops on SIGTERM / SIGINT once
            every accepted request is answered.
            [--host 127.0.0.1] [--port 8080] [--max-batch-tokens 16384] [--max-batch-requests N]
            [--max-concurrent-requests 512] [--max-client-batch-size 32] [--payload-limit 2000000]
            [--auto-truncate] [--api-key KEY] [--cors-allow-origin ORIGIN,...] [--model-id NAME]

  embed, rank and classify read stdin, or --input FILE; each line is plain text (a line that
  starts with "{" too) unless --jsonl is given or FILE ends in .jsonl: then each line is a JSON
  object with a string "text" field.

common options:
  --model DIR|URL|FILE   checkpoint folder (config.json + model.safetensors), Hub-style URL, or
                         its model.safetensors; default: the bundled weights/wordnet-mini
  --dtype f32|f16        matmul weight precision (f16: half the weight memory; f32 arithmetic)
  -h, --help`;

class UsageError extends Error {}

/** True while a "\r"-rewritten progress line is on stderr, so an error starts on a fresh line. */
let progressLineOpen = false;

const OPTIONS = {
  model: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  dtype: { type: 'string', default: 'f32' },
  pooling: { type: 'string' },
  normalize: { type: 'boolean' },
  prompt: { type: 'string' },
  'prompt-name': { type: 'string' },
  'truncate-dim': { type: 'string' },
  precision: { type: 'string' },
  'raw-scores': { type: 'boolean', default: false },
  task: { type: 'string' },
  pair: { type: 'boolean', default: false },
  query: { type: 'string' },
  'top-k': { type: 'string' },
  threshold: { type: 'string' },
  'block-labels': { type: 'string' },
  'batch-size': { type: 'string', default: '32' },
  'max-length': { type: 'string' },
  'no-truncation': { type: 'boolean', default: false },
  jsonl: { type: 'boolean', default: false },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  'max-batch-tokens': { type: 'string', default: '16384' },
  'max-batch-requests': { type: 'string' },
  'max-concurrent-requests': { type: 'string', default: '512' },
  'max-client-batch-size': { type: 'string', default: '32' },
  'payload-limit': { type: 'string', default: '2000000' },
  'auto-truncate': { type: 'boolean', default: false },
  'api-key': { type: 'string' },
  'cors-allow-origin': { type: 'string' },
  'model-id': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** --max-length: at least 2 (the special tokens), at most the model's limit (checked once it is loaded). */
function maxLengthOption(options: Options, model?: Encoder): number | undefined {
  const n = positiveInt(options['max-length'], '--max-length');
  if (n === undefined) return undefined;
  if (n < 2) throw new UsageError(`--max-length must be at least 2 (the special tokens), got "${options['max-length']}"`);
  if (model && n > model.config.maxLength) throw new UsageError(`--max-length must be at most ${model.config.maxLength} for this model, got "${options['max-length']}"`);
  return n;
}

async function loadModel(options: Options): Promise<Encoder> {
  if (options.dtype !== 'f32' && options.dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, got "${options.dtype}"`);
  const source = await sourceFor(options.model ?? BUNDLED_MODEL_DIR);
  return Encoder.load(source, { dtype: options.dtype });
}

type TextInput = string | [string, string];

/** Where texts come from: --input FILE or stdin; JSONL only when asked (--jsonl or a .jsonl file). */
async function textSource(options: Options): Promise<{ name: string; jsonl: boolean; input: NodeJS.ReadableStream }> {
  const file = options.input;
  if (file === undefined) return { name: 'stdin', jsonl: !!options.jsonl, input: process.stdin };
  const info = await stat(file).catch(() => null);
  if (!info) throw new UsageError(`--input ${file}: no such file`);
  if (!info.isFile()) throw new UsageError(`--input ${file}: not a file`);
  return { name: file, jsonl: !!options.jsonl || file.toLowerCase().endsWith('.jsonl'), input: createReadStream(file) };
}

/**
 * The texts, one per non-empty line, as they arrive: plain text lines (whatever they start
 * with), or JSONL records with a string "text" (and, where allowed, "text_pair").
 */
async function* readTexts(what: string, allowPairs: boolean, options: Options): AsyncGenerator<TextInput> {
  const source = await textSource(options);
  let count = 0;
  for await (const [lineNumber, line] of lines(source.input)) {
    if (line.trim() === '') continue;
    count++;
    if (!source.jsonl) {
      yield line;
      continue;
    }
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new EncoderError(`${source.name} line ${lineNumber}: not valid JSON (JSONL input: one {"text": ...} object per line)`);
    }
    const { text, text_pair: pair } = (record ?? {}) as { text?: unknown; text_pair?: unknown };
    if (typeof text !== 'string') throw new EncoderError(`${source.name} line ${lineNumber}: JSON without a string "text" field`);
    if (pair !== undefined && (!allowPairs || typeof pair !== 'string')) {
      throw new EncoderError(`${source.name} line ${lineNumber}: ${allowPairs ? '"text_pair" must be a string' : `${what} takes no "text_pair"`}`);
    }
    yield pair === undefined ? text : [text, pair as string];
  }
  if (count === 0) throw new EncoderError(`${what}: no text on ${source.name}`);
}

/** Every text, for commands that need them all (rank). */
async function readAllTexts(what: string, allowPairs: boolean, options: Options): Promise<TextInput[]> {
  const texts: TextInput[] = [];
  for await (const text of readTexts(what, allowPairs, options)) texts.push(text);
  return texts;
}

/** The texts in batches of `size`, each handed out as soon as it is full (or the input ends). */
async function* batchesOf(texts: AsyncIterable<TextInput>, size: number): AsyncGenerator<TextInput[]> {
  let batch: TextInput[] = [];
  for await (const text of texts) {
    batch.push(text);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

async function* lines(input: NodeJS.ReadableStream): AsyncGenerator<[number, string]> {
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) yield [++n, line];
}

function stdinLines(): AsyncGenerator<[number, string]> {
  return lines(process.stdin);
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve).once('error', reject);
  });
}

async function forwardCommand(options: Options): Promise<void> {
  if (!options.input) throw new UsageError('forward needs --input IN.safetensors');
  if (!options.output) throw new UsageError('forward needs --output OUT.safetensors');
  // Fail before any GPU work when the result could not be written anyway.
  const outputDir = path.dirname(path.resolve(options.output));
  const dirInfo = await stat(outputDir).catch(() => null);
  if (!dirInfo?.isDirectory()) throw new EncoderError(`${options.output}: output folder ${outputDir} does not exist`);
  const inputBytes = await readFile(options.input).catch((e: Error) => {
    throw new EncoderError(`${options.input}: ${e.message}`);
  });
  const input = parseSafetensors(new Uint8Array(inputBytes), options.input);
  for (const name of ['input_ids', 'attention_mask']) {
    if (!input.has(name)) throw new EncoderError(`${options.input}: missing tensor "${name}" ([B,T] I64 or I32)`);
    if (input.entry(name).shape.length !== 2) {
      throw new EncoderError(`${options.input}: tensor "${name}" has shape [${input.entry(name).shape}], expected [B,T]`);
    }
  }
  const [batch, seqLen] = input.entry('input_ids').shape;
  const maskShape = input.entry('attention_mask').shape;
  if (maskShape[0] !== batch || maskShape[1] !== seqLen) {
    throw new EncoderError(`${options.input}: attention_mask has shape [${maskShape}], expected [${batch},${seqLen}] like input_ids`);
  }
  const inputIds = input.toInt32('input_ids');
  const attentionMask = input.toInt32('attention_mask');
  let tokenTypeIds: Int32Array | undefined;
  if (input.has('token_type_ids')) {
    const shape = input.entry('token_type_ids').shape;
    if (shape.length !== 2 || shape[0] !== batch || shape[1] !== seqLen) {
      throw new EncoderError(`${options.input}: token_type_ids has shape [${shape}], expected [${batch},${seqLen}] like input_ids`);
    }
    tokenTypeIds = input.toInt32('token_type_ids');
  }

  const model = await loadModel(options);
  try {
    const head = model.info().head;
    const hasPooler = model.model.hasPooler;
    // sentence_embedding: a sentence-transformers folder's modules (Pooling, Dense, Normalize)
    // after the transformer, else the checkpoint's own encode() (jina); a config truncate_dim
    // (jina) cuts it to that width, normalised after the cut as encode() does.
    const own = model.config.encode;
    const sentenceWidth = model.runner.head?.dimension ?? model.config.hiddenSize;
    const truncateDim = own?.truncateDim != null && own.truncateDim < sentenceWidth ? own.truncateDim : null;
    const sentenceOutput: OutputName | null = model.runner.head
      ? 'sentenceEmbedding'
      : own
        ? (`${own.pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${own.normalize && truncateDim === null ? 'Normalized' : ''}` as OutputName)
        : null;
    const outputs: OutputName[] = ['lastHiddenState', 'pooledCls', 'pooledMean'];
    if (hasPooler) outputs.push('poolerOutput');
    if (sentenceOutput && !outputs.includes(sentenceOutput)) outputs.push(sentenceOutput);
    if (head !== 'none') outputs.push('logits');
    // Per-sequence inputs the model reads (EncoderModel.sequenceInputs, e.g. adapter_mask): [B] tensors of the input file.
    const sequenceInputs: Record<string, Int32Array> = {};
    for (const name of model.model.sequenceInputs ?? []) {
      if (!input.has(name)) continue;
      const shape = input.entry(name).shape;
      if (shape.length !== 1 || shape[0] !== batch) throw new EncoderError(`${options.input}: ${name} has shape [${shape}], expected [${batch}] (one value per row)`);
      sequenceInputs[name] = input.toInt32(name);
    }
    const result = await model.forward({ inputIds, attentionMask, tokenTypeIds, batch, seqLen, outputs, sequenceInputs });
    const C = model.config.hiddenSize;
    const f32 = (shape: number[], data: Float32Array): SerializableTensor => ({ dtype: 'F32', shape, data });
    const tensors: Record<string, SerializableTensor> = {
      last_hidden_state: f32([batch, seqLen, C], result.lastHiddenState!),
      pooled_cls: f32([batch, C], result.pooledCls!),
      pooled_mean: f32([batch, C], result.pooledMean!),
    };
    if (hasPooler) tensors.pooler_output = f32([batch, C], result.poolerOutput!);
    if (sentenceOutput) {
      tensors.sentence_embedding =
        truncateDim === null
          ? f32([batch, sentenceWidth], result[sentenceOutput]!)
          : f32([batch, truncateDim], truncateRows(result[sentenceOutput]!, batch, sentenceWidth, truncateDim, own!.normalize));
    }
    if (head === 'mlm') tensors.logits = f32([batch, seqLen, model.config.vocabSize], result.logits!);
    if (head === 'classification') tensors.logits = f32([batch, result.logits!.length / batch], result.logits!);
    if (head === 'token-classification') {
      tensors.logits = f32(model.model.tokenLogitsSqueezed ? [batch, seqLen] : [batch, seqLen, result.logits!.length / (batch * seqLen)], result.logits!);
    }
    await writeFileAtomic(options.output, serializeSafetensors(tensors, { format: 'pt', producer: 'neobert-webgpu' }));
    process.stderr.write(`neobert: wrote ${Object.keys(tensors).join(', ')} for ${batch} x ${seqLen} tokens to ${options.output}\n`);
  } finally {
    model.dispose();
  }
}

async function tokenizeCommand(options: Options): Promise<void> {
  // Only the tokenizer files: no config, weights or GPU.
  const source = await sourceFor(options.model ?? BUNDLED_MODEL_DIR);
  const files = await readTokenizerFiles(source);
  if (!files.tokenizerJson && !files.vocabTxt && !(files.vocabJson && files.mergesTxt) && !files.spmModel) {
    throw new EncoderError(`${source.label}: no tokenizer files (tokenizer.json, vocab.txt, vocab.json + merges.txt, or spm.model)`);
  }
  const tokenizer = EncoderTokenizer.fromFiles(files, { maxLength: Number.MAX_SAFE_INTEGER });
  for await (const [lineNumber, line] of stdinLines()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new EncoderError(`stdin line ${lineNumber}: not JSON (write ${options.pair ? '["text", "text pair"]' : '"like this"'})`);
    }
    if (options.pair) {
      if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
        throw new EncoderError(`stdin line ${lineNumber}: expected a JSON array of two strings [text, text_pair]`);
      }
      const { ids, typeIds } = tokenizer.encodePair(value[0], value[1]);
      await write(JSON.stringify({ input_ids: ids, token_type_ids: typeIds }) + '\n');
    } else {
      if (typeof value !== 'string') throw new EncoderError(`stdin line ${lineNumber}: expected a JSON string, got ${Array.isArray(value) ? 'an array (use --pair for pairs)' : typeof value}`);
      await write(JSON.stringify(tokenizer.encode(value)) + '\n');
    }
  }
}

/** A progress line on stderr: rewritten in place on a terminal, one line per update in a log. */
function progress(text: string): void {
  if (!process.stderr.isTTY) return void process.stderr.write(`neobert: ${text}\n`);
  progressLineOpen = true;
  process.stderr.write(`\rneobert: ${text}`);
}

function endProgress(text: string): void {
  process.stderr.write(`${progressLineOpen && process.stderr.isTTY ? '\r' : ''}neobert: ${text}\n`);
  progressLineOpen = false;
}

async function embedCommand(options: Options): Promise<void> {
  const pooling = options.pooling as Pooling | undefined;
  if (pooling !== undefined && pooling !== 'cls' && pooling !== 'mean') throw new UsageError(`--pooling must be cls or mean, got "${options.pooling}"`);
  const precision = (options.precision ?? 'float32') as Precision;
  if (!PRECISIONS.includes(precision)) throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got "${options.precision}"`);
  const truncateDim = positiveInt(options['truncate-dim'], '--truncate-dim');
  const batchSize = positiveInt(options['batch-size'], '--batch-size')!;
  maxLengthOption(options);
  await textSource(options); // a missing --input file fails before the model loads
  const model = await loadModel(options);
  try {
    const maxLength = maxLengthOption(options, model);
    const promptName = options['prompt-name'];
    if (promptName !== undefined) {
      const prompts = model.checkpoint.sentenceTransformers?.prompts ?? {};
      if (!Object.hasOwn(prompts, promptName)) {
        const known = Object.keys(prompts);
        throw new UsageError(`--prompt-name must name a prompt of this model (${known.length > 0 ? known.join(', ') : 'it has none'}), got "${promptName}"`);
      }
    }
    const width = model.runner.head && pooling === undefined ? model.runner.head.dimension : model.config.hiddenSize;
    if (truncateDim !== undefined && truncateDim > width) throw new UsageError(`--truncate-dim must be at most ${width} (the embedding width), got "${options['truncate-dim']}"`);
    const started = performance.now();
    // Batch by batch in input order: each batch's lines are written as soon as it is done, so
    // output starts at once and memory stays one batch whatever the input's length. int8 / uint8
    // ranges are per call (SentenceTransformer.encode's), so those read the whole input first.
    const wholeInput = precision === 'int8' || precision === 'uint8';
    let index = 0;
    const texts = readTexts('embed', false, options);
    for await (const batch of wholeInput ? batchesOf(texts, Number.MAX_SAFE_INTEGER) : batchesOf(texts, batchSize)) {
      const embeddings = await model.embed(batch as string[], {
        pooling,
        normalize: options.normalize,
        prompt: options.prompt,
        promptName,
        truncateDim,
        precision,
        task: options.task,
        batchSize,
        maxLength,
        truncation: !options['no-truncation'],
      });
      let out = '';
      for (const embedding of embeddings) out += JSON.stringify({ index: index++, embedding: Array.from(embedding) }) + '\n';
      await write(out);
      progress(`embedded ${index}`);
    }
    endProgress(`embedded ${index} texts in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  } finally {
    model.dispose();
  }
}

async function rankCommand(options: Options): Promise<void> {
  if (options.query === undefined) throw new UsageError('rank needs --query TEXT');
  const topK = positiveInt(options['top-k'], '--top-k');
  const batchSize = positiveInt(options['batch-size'], '--batch-size')!;
  maxLengthOption(options);
  const documents = (await readAllTexts('rank', false, options)) as string[];
  const model = await loadModel(options);
  try {
    const maxLength = maxLengthOption(options, model);
    const ranked = await model.rank(options.query, documents, { topK, batchSize, maxLength, truncation: !options['no-truncation'], rawScores: options['raw-scores'] });
    let out = '';
    for (const r of ranked) out += JSON.stringify(r) + '\n';
    await write(out);
  } finally {
    model.dispose();
  }
}

async function classifyCommand(options: Options): Promise<void> {
  const topK = positiveInt(options['top-k'], '--top-k');
  const batchSize = positiveInt(options['batch-size'], '--batch-size')!;
  maxLengthOption(options);
  let threshold: number | undefined;
  if (options.threshold !== undefined) {
    threshold = Number(options.threshold);
    if (options.threshold.trim() === '' || !(threshold >= 0 && threshold <= 1)) throw new UsageError(`--threshold must be a probability in [0, 1], got "${options.threshold}"`);
  } else if (options['block-labels'] !== undefined) {
    throw new UsageError('--block-labels needs --threshold');
  }
  await textSource(options);
  const model = await loadModel(options);
  try {
    const maxLength = maxLengthOption(options, model);
    const common = { batchSize, maxLength, truncation: !options['no-truncation'] };
    let blockLabels: (string | number)[] | undefined;
    if (threshold !== undefined && model.labels) {
      const labels = model.labels;
      blockLabels = options['block-labels']?.split(',').map((l) => (/^\d+$/.test(l.trim()) && !labels.includes(l.trim()) ? Number(l) : l.trim()));
      for (const l of blockLabels ?? []) {
        if (typeof l === 'number' ? l >= labels.length : !labels.includes(l)) {
          throw new UsageError(`--block-labels: "${l}" is not a label of this model (${labels.map((x, i) => `${i}: ${x}`).join(', ')})`);
        }
      }
      if (!blockLabels && labels.length !== 2) {
        throw new UsageError(`--threshold: this classifier has ${labels.length} labels (${labels.join(', ')}); name the ones that block with --block-labels`);
      }
    }
    const started = performance.now();
    let index = 0;
    let blocked = 0;
    let pairs: boolean | null = null;
    for await (const batch of batchesOf(readTexts('classify', true, options), batchSize)) {
      for (const t of batch) {
        pairs ??= Array.isArray(t);
        if (pairs !== Array.isArray(t)) throw new EncoderError('classify: give every line a "text_pair", or none');
      }
      let out = '';
      if (threshold !== undefined) {
        const decisions = await model.guard(batch as string[], { ...common, threshold, blockLabels });
        for (const d of decisions) {
          const labels = d.labels.slice(0, topK ?? d.labels.length).map(({ label, score, logit }) => ({ label, score, logit }));
          out += JSON.stringify({ index: index++, decision: d.decision, score: d.score, label: d.label, labels }) + '\n';
          if (d.decision === 'block') blocked++;
        }
      } else {
        const results = await model.classify(batch as string[], { topK, ...common });
        for (const scores of results) {
          const [best] = scores;
          const labels = scores.map(({ label, score, logit }) => ({ label, score, logit }));
          out += JSON.stringify({ index: index++, label: best.label, score: best.score, labels }) + '\n';
        }
      }
      await write(out);
    }
    if (threshold !== undefined) {
      process.stderr.write(`neobert: ${index - blocked} allowed, ${blocked} blocked (threshold ${threshold}) in ${(performance.now() - started).toFixed(0)} ms\n`);
    }
  } finally {
    model.dispose();
  }
}

async function infoCommand(options: Options): Promise<void> {
  const model = await loadModel(options);
  try {
    const info = model.info();
    const limits = model.gpu.device.limits;
    await write(
      JSON.stringify(
        {
          ...info,
          limits: { maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize },
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    model.dispose();
  }
}

async function serveCommand(options: Options): Promise<void> {
  const port = Number(options.port);
  if (!/^\d+$/.test(options.port ?? '') || port > 65535) throw new UsageError(`--port must be an integer in [0, 65535], got "${options.port}"`);
  const limits = {
    maxBatchTokens: positiveInt(options['max-batch-tokens'], '--max-batch-tokens')!,
    maxBatchRequests: positiveInt(options['max-batch-requests'], '--max-batch-requests') ?? null,
    maxConcurrentRequests: positiveInt(options['max-concurrent-requests'], '--max-concurrent-requests')!,
    maxClientBatchSize: positiveInt(options['max-client-batch-size'], '--max-client-batch-size')!,
    payloadLimit: positiveInt(options['payload-limit'], '--payload-limit')!,
    autoTruncate: !!options['auto-truncate'],
  };
  if (options.dtype !== 'f32' && options.dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, got "${options.dtype}"`);
  const location = options.model ?? BUNDLED_MODEL_DIR;
  const source = await sourceFor(location); // a missing folder fails before anything listens
  const { startServer } = await import('./server/index');
  const log = (line: string) => process.stderr.write(`neobert: ${line}\n`);
  const server = await startServer(() => Encoder.load(source, { dtype: options.dtype as 'f32' | 'f16' }), {
    ...limits,
    host: options.host!,
    port,
    modelId: options['model-id'] ?? (options.model ? options.model.replace(/[\\/]+$/, '') : 'neobert-mini'),
    dtype: options.dtype,
    apiKey: options['api-key'] ?? process.env.NEOBERT_API_KEY ?? null,
    corsAllowOrigin: options['cors-allow-origin']?.split(',').map((o) => o.trim()).filter(Boolean) ?? null,
    testHooks: process.env.NEOBERT_SERVE_TEST_HOOKS === '1',
    log,
  });
  log(`serving ${server.host.model.checkpoint.label} (${server.host.kind}) on ${server.url}`);
  const stop = (signal: string) => {
    log(`${signal}: no new connections; finishing the requests already accepted`);
    void server.close();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await server.closed;
  log('stopped');
}

const COMMANDS: Record<string, (options: Options) => Promise<void>> = {
  forward: forwardCommand,
  tokenize: tokenizeCommand,
  embed: embedCommand,
  rank: rankCommand,
  classify: classifyCommand,
  info: infoCommand,
  serve: serveCommand,
};

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`neobert: ${(e as Error).message} (see neobert --help)\n`);
    return 2;
  }
  const [command, ...extra] = parsed.positionals;
  if (parsed.values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return parsed.values.help ? 0 : 2;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run || extra.length) {
    process.stderr.write(`neobert: ${run ? `unexpected argument "${extra[0]}"` : `unknown command "${command}"`} (see neobert --help)\n`);
    return 2;
  }
  try {
    await run(parsed.values);
    return 0;
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    process.stderr.write(`${progressLineOpen ? '\n' : ''}neobert: ${message.split('\n')[0]}\n`);
    if (process.env.NEOBERT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

// Exit explicitly: a Dawn instance can keep Node's event loop alive after the work is done.
main(process.argv.slice(2)).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e) => {
    process.stderr.write(`neobert: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
