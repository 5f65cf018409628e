#!/usr/bin/env node
// neobert: command-line front end for every architecture the engine runs. Every failure prints one line "neobert: <reason>" on stderr
// and exits non-zero (2 for usage errors, 1 for everything else); outputs are written
// atomically, so a failed run never leaves a partial file.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { Encoder, type Pooling } from './encoder';
import { readTokenizerFiles } from './checkpoint';
import { NeoBERTError } from './errors';
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
            sentence_embedding [B,C] for a sentence-transformers folder (its pooling and
            normalisation), and logits for an MLM ([B,T,V]) or classification ([B,labels]) head.
  tokenize  needs only the tokenizer files: one JSON string per stdin line -> one JSON array of
            ids per line; with --pair, one JSON array [text, text_pair] per line -> one JSON
            object {"input_ids": [...], "token_type_ids": [...]} per line.
  embed     reads text lines (or JSONL with a "text" field) on stdin, writes JSONL embeddings
            {"index": i, "embedding": [...]}; progress on stderr. Pooling and normalisation
            default to the sentence-transformers folder's (else cls, none).
            [--pooling cls|mean] [--normalize] [--prompt TEXT | --prompt-name NAME]
            [--batch-size N] [--max-length N] [--no-truncation]
  rank      --query TEXT: reads documents (text lines, or JSONL with "text") on stdin, ranks them
            with a cross-encoder, writes JSONL {"index", "score", "logit"} best first. [--top-k N]
  classify  reads texts (lines, or JSONL with "text" and optional "text_pair") on stdin, writes
            JSONL {"index", "label", "score", "labels": [{label, score, logit}...]}. [--top-k N]
            With --threshold P (a guardrail: allow/block), each line gets "decision" and the
            probability of the block labels as "score"; [--block-labels A,B] names them (default:
            label 1 of a two-label classifier). A summary of allow/block counts goes to stderr.
  info      prints the architecture, config, parameter count, dtypes, adapter and features as JSON.

common options:
  --model DIR|URL|FILE   checkpoint folder (config.json + model.safetensors), Hub-style URL, or
                         its model.safetensors; default: the bundled weights/neobert-mini
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
  pair: { type: 'boolean', default: false },
  query: { type: 'string' },
  'top-k': { type: 'string' },
  threshold: { type: 'string' },
  'block-labels': { type: 'string' },
  'batch-size': { type: 'string', default: '32' },
  'max-length': { type: 'string' },
  'no-truncation': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

async function loadModel(options: Options): Promise<Encoder> {
  if (options.dtype !== 'f32' && options.dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, got "${options.dtype}"`);
  const source = await sourceFor(options.model ?? BUNDLED_MODEL_DIR);
  return Encoder.load(source, { dtype: options.dtype });
}

/** Text lines, or JSONL records with a string "text" (and, where allowed, "text_pair"). */
async function readTexts(what: string, allowPairs: boolean): Promise<(string | [string, string])[]> {
  const texts: (string | [string, string])[] = [];
  for await (const [lineNumber, line] of stdinLines()) {
    if (line.trim() === '') continue;
    if (!line.trimStart().startsWith('{')) {
      texts.push(line);
      continue;
    }
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new NeoBERTError(`stdin line ${lineNumber}: starts with "{" but is not valid JSON`);
    }
    const { text, text_pair: pair } = record as { text?: unknown; text_pair?: unknown };
    if (typeof text !== 'string') throw new NeoBERTError(`stdin line ${lineNumber}: JSON object without a string "text" field`);
    if (pair !== undefined && (!allowPairs || typeof pair !== 'string')) {
      throw new NeoBERTError(`stdin line ${lineNumber}: ${allowPairs ? '"text_pair" must be a string' : `${what} takes no "text_pair"`}`);
    }
    texts.push(pair === undefined ? text : [text, pair as string]);
  }
  if (texts.length === 0) throw new NeoBERTError(`${what}: no text on stdin`);
  return texts;
}

async function* stdinLines(): AsyncGenerator<[number, string]> {
  let n = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) yield [++n, line];
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
  if (!dirInfo?.isDirectory()) throw new NeoBERTError(`${options.output}: output folder ${outputDir} does not exist`);
  const inputBytes = await readFile(options.input).catch((e: Error) => {
    throw new NeoBERTError(`${options.input}: ${e.message}`);
  });
  const input = parseSafetensors(new Uint8Array(inputBytes), options.input);
  for (const name of ['input_ids', 'attention_mask']) {
    if (!input.has(name)) throw new NeoBERTError(`${options.input}: missing tensor "${name}" ([B,T] I64 or I32)`);
    if (input.entry(name).shape.length !== 2) {
      throw new NeoBERTError(`${options.input}: tensor "${name}" has shape [${input.entry(name).shape}], expected [B,T]`);
    }
  }
  const [batch, seqLen] = input.entry('input_ids').shape;
  const maskShape = input.entry('attention_mask').shape;
  if (maskShape[0] !== batch || maskShape[1] !== seqLen) {
    throw new NeoBERTError(`${options.input}: attention_mask has shape [${maskShape}], expected [${batch},${seqLen}] like input_ids`);
  }
  const inputIds = input.toInt32('input_ids');
  const attentionMask = input.toInt32('attention_mask');
  let tokenTypeIds: Int32Array | undefined;
  if (input.has('token_type_ids')) {
    const shape = input.entry('token_type_ids').shape;
    if (shape.length !== 2 || shape[0] !== batch || shape[1] !== seqLen) {
      throw new NeoBERTError(`${options.input}: token_type_ids has shape [${shape}], expected [${batch},${seqLen}] like input_ids`);
    }
    tokenTypeIds = input.toInt32('token_type_ids');
  }

  const model = await loadModel(options);
  try {
    const head = model.info().head;
    const hasPooler = model.model.hasPooler;
    const st = model.checkpoint.sentenceTransformers;
    const sentence = st ? model.embeddingDefaults() : null;
    const sentenceOutput = sentence && (`${sentence.pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${sentence.normalize ? 'Normalized' : ''}` as OutputName);
    const outputs: OutputName[] = ['lastHiddenState', 'pooledCls', 'pooledMean'];
    if (hasPooler) outputs.push('poolerOutput');
    if (sentenceOutput && !outputs.includes(sentenceOutput)) outputs.push(sentenceOutput);
    if (head !== 'none') outputs.push('logits');
    const result = await model.forward({ inputIds, attentionMask, tokenTypeIds, batch, seqLen, outputs });
    const C = model.config.hiddenSize;
    const f32 = (shape: number[], data: Float32Array): SerializableTensor => ({ dtype: 'F32', shape, data });
    const tensors: Record<string, SerializableTensor> = {
      last_hidden_state: f32([batch, seqLen, C], result.lastHiddenState!),
      pooled_cls: f32([batch, C], result.pooledCls!),
      pooled_mean: f32([batch, C], result.pooledMean!),
    };
    if (hasPooler) tensors.pooler_output = f32([batch, C], result.poolerOutput!);
    if (sentenceOutput) tensors.sentence_embedding = f32([batch, C], result[sentenceOutput]!);
    if (head === 'mlm') tensors.logits = f32([batch, seqLen, model.config.vocabSize], result.logits!);
    if (head === 'classification') tensors.logits = f32([batch, result.logits!.length / batch], result.logits!);
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
  if (!files.tokenizerJson && !files.vocabTxt && !(files.vocabJson && files.mergesTxt)) {
    throw new NeoBERTError(`${source.label}: no tokenizer files (tokenizer.json, vocab.txt, or vocab.json + merges.txt)`);
  }
  const tokenizer = EncoderTokenizer.fromFiles(files, { maxLength: Number.MAX_SAFE_INTEGER });
  for await (const [lineNumber, line] of stdinLines()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new NeoBERTError(`stdin line ${lineNumber}: not JSON (write ${options.pair ? '["text", "text pair"]' : '"like this"'})`);
    }
    if (options.pair) {
      if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
        throw new NeoBERTError(`stdin line ${lineNumber}: expected a JSON array of two strings [text, text_pair]`);
      }
      const { ids, typeIds } = tokenizer.encodePair(value[0], value[1]);
      await write(JSON.stringify({ input_ids: ids, token_type_ids: typeIds }) + '\n');
    } else {
      if (typeof value !== 'string') throw new NeoBERTError(`stdin line ${lineNumber}: expected a JSON string, got ${Array.isArray(value) ? 'an array (use --pair for pairs)' : typeof value}`);
      await write(JSON.stringify(tokenizer.encode(value)) + '\n');
    }
  }
}

async function embedCommand(options: Options): Promise<void> {
  const pooling = options.pooling as Pooling | undefined;
  if (pooling !== undefined && pooling !== 'cls' && pooling !== 'mean') throw new UsageError(`--pooling must be cls or mean, got "${options.pooling}"`);
  if (options.prompt !== undefined && options['prompt-name'] !== undefined) throw new UsageError('give --prompt or --prompt-name, not both');
  const batchSize = positiveInt(options['batch-size'], '--batch-size')!;
  const maxLength = positiveInt(options['max-length'], '--max-length');
  const texts = (await readTexts('embed', false)) as string[];
  const model = await loadModel(options);
  try {
    const started = performance.now();
    const embeddings = await model.embed(texts, {
      pooling,
      normalize: options.normalize,
      prompt: options.prompt,
      promptName: options['prompt-name'],
      batchSize,
      maxLength,
      truncation: !options['no-truncation'],
      onBatch: (done, total) => {
        // A terminal gets one line rewritten in place; a log file gets one line per batch.
        if (!process.stderr.isTTY) return void process.stderr.write(`neobert: embedded ${done}/${total}\n`);
        progressLineOpen = true;
        process.stderr.write(`\rneobert: embedded ${done}/${total}`);
      },
    });
    progressLineOpen = false;
    process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}neobert: embedded ${texts.length} texts in ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
    for (let i = 0; i < embeddings.length; i++) await write(JSON.stringify({ index: i, embedding: Array.from(embeddings[i]) }) + '\n');
  } finally {
    model.dispose();
  }
}

async function rankCommand(options: Options): Promise<void> {
  if (options.query === undefined) throw new UsageError('rank needs --query TEXT');
  const topK = positiveInt(options['top-k'], '--top-k');
  const batchSize = positiveInt(options['batch-size'], '--batch-size')!;
  const maxLength = positiveInt(options['max-length'], '--max-length');
  const documents = (await readTexts('rank', false)) as string[];
  const model = await loadModel(options);
  try {
    const ranked = await model.rank(options.query, documents, { topK, batchSize, maxLength, truncation: !options['no-truncation'] });
    for (const r of ranked) await write(JSON.stringify(r) + '\n');
  } finally {
    model.dispose();
  }
}

async function classifyCommand(options: Options): Promise<void> {
  const topK = positiveInt(options['top-k'], '--top-k');
  const batchSize = positiveInt(options['batch-size'], '--batch-size')!;
  const maxLength = positiveInt(options['max-length'], '--max-length');
  const texts = await readTexts('classify', true);
  const pairs = texts.filter((t) => Array.isArray(t)).length;
  if (pairs !== 0 && pairs !== texts.length) throw new NeoBERTError('classify: give every line a "text_pair", or none');
  let threshold: number | undefined;
  if (options.threshold !== undefined) {
    threshold = Number(options.threshold);
    if (options.threshold.trim() === '' || !(threshold >= 0 && threshold <= 1)) throw new UsageError(`--threshold must be a probability in [0, 1], got "${options.threshold}"`);
  } else if (options['block-labels'] !== undefined) {
    throw new UsageError('--block-labels needs --threshold');
  }
  const model = await loadModel(options);
  try {
    const common = { batchSize, maxLength, truncation: !options['no-truncation'] };
    if (threshold !== undefined) {
      const blockLabels = options['block-labels']?.split(',').map((l) => (/^\d+$/.test(l.trim()) && !model.labels?.includes(l.trim()) ? Number(l) : l.trim()));
      const started = performance.now();
      const decisions = await model.guard(texts as string[], { ...common, threshold, blockLabels });
      const ms = performance.now() - started;
      for (const d of decisions) {
        const labels = d.labels.slice(0, topK ?? d.labels.length).map(({ label, score, logit }) => ({ label, score, logit }));
        await write(JSON.stringify({ index: d.index, decision: d.decision, score: d.score, label: d.label, labels }) + '\n');
      }
      const blocked = decisions.filter((d) => d.decision === 'block').length;
      process.stderr.write(`neobert: ${decisions.length - blocked} allowed, ${blocked} blocked (threshold ${threshold}) in ${ms.toFixed(0)} ms\n`);
      return;
    }
    const results = await model.classify(texts as string[], { topK, ...common });
    for (let i = 0; i < results.length; i++) {
      const [best] = results[i];
      const labels = results[i].map(({ label, score, logit }) => ({ label, score, logit }));
      await write(JSON.stringify({ index: i, label: best.label, score: best.score, labels }) + '\n');
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

const COMMANDS: Record<string, (options: Options) => Promise<void>> = {
  forward: forwardCommand,
  tokenize: tokenizeCommand,
  embed: embedCommand,
  rank: rankCommand,
  classify: classifyCommand,
  info: infoCommand,
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
