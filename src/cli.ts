#!/usr/bin/env node
// neobert: command-line front end. Every failure prints one line "neobert: <reason>" on stderr
// and exits non-zero (2 for usage errors, 1 for everything else); outputs are written
// atomically, so a failed run never leaves a partial file.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { NeoBERT, type Pooling } from './encoder';
import { NeoBERTError } from './errors';
import { parseSafetensors, serializeSafetensors, type SerializableTensor } from './safetensors';
import type { OutputName } from './runner';
import { BUNDLED_MODEL_DIR, sourceFor, writeFileAtomic } from './node/index';

const USAGE = `usage: neobert <command> [options]

commands:
  forward   --input IN.safetensors --output OUT.safetensors
            IN holds input_ids and attention_mask ([B,T], I64 or I32, right-padded); OUT gets F32
            last_hidden_state [B,T,C], pooled_cls [B,C], pooled_mean [B,C] and logits when the
            checkpoint has an MLM ([B,T,V]) or classification ([B,labels]) head.
  tokenize  reads one JSON string per line on stdin, writes one JSON array of ids per line.
  embed     reads text lines (or JSONL with a "text" field) on stdin, writes JSONL embeddings
            {"index": i, "embedding": [...]}; progress on stderr.
            [--pooling cls|mean] [--normalize] [--batch-size N] [--max-length N] [--no-truncation]
  info      prints the config, parameter count, dtypes, adapter and its features as JSON.

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
  pooling: { type: 'string', default: 'cls' },
  normalize: { type: 'boolean', default: false },
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

async function loadModel(options: Options): Promise<NeoBERT> {
  if (options.dtype !== 'f32' && options.dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, got "${options.dtype}"`);
  const source = await sourceFor(options.model ?? BUNDLED_MODEL_DIR);
  return NeoBERT.load(source, { dtype: options.dtype });
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

  const model = await loadModel(options);
  try {
    const head = model.info().head;
    const outputs: OutputName[] = ['lastHiddenState', 'pooledCls', 'pooledMean', ...(head !== 'none' ? (['logits'] as const) : [])];
    const result = await model.forward({ inputIds, attentionMask, batch, seqLen, outputs });
    const C = model.config.hiddenSize;
    const f32 = (shape: number[], data: Float32Array): SerializableTensor => ({ dtype: 'F32', shape, data });
    const tensors: Record<string, SerializableTensor> = {
      last_hidden_state: f32([batch, seqLen, C], result.lastHiddenState!),
      pooled_cls: f32([batch, C], result.pooledCls!),
      pooled_mean: f32([batch, C], result.pooledMean!),
    };
    if (head === 'mlm') tensors.logits = f32([batch, seqLen, model.config.vocabSize], result.logits!);
    if (head === 'classification') tensors.logits = f32([batch, result.logits!.length / batch], result.logits!);
    await writeFileAtomic(options.output, serializeSafetensors(tensors, { format: 'pt', producer: 'neobert-webgpu' }));
    process.stderr.write(`neobert: wrote ${Object.keys(tensors).join(', ')} for ${batch} x ${seqLen} tokens to ${options.output}\n`);
  } finally {
    model.dispose();
  }
}

async function tokenizeCommand(options: Options): Promise<void> {
  const model = await loadModel(options);
  try {
    const tokenizer = model.tokenizer;
    for await (const [lineNumber, line] of stdinLines()) {
      if (line.trim() === '') continue;
      let text: unknown;
      try {
        text = JSON.parse(line);
      } catch {
        throw new NeoBERTError(`stdin line ${lineNumber}: not a JSON string (write "like this")`);
      }
      if (typeof text !== 'string') throw new NeoBERTError(`stdin line ${lineNumber}: expected a JSON string, got ${typeof text}`);
      await write(JSON.stringify(tokenizer.encode(text)) + '\n');
    }
  } finally {
    model.dispose();
  }
}

async function embedCommand(options: Options): Promise<void> {
  const pooling = options.pooling as Pooling;
  if (pooling !== 'cls' && pooling !== 'mean') throw new UsageError(`--pooling must be cls or mean, got "${options.pooling}"`);
  const batchSize = positiveInt(options['batch-size'], '--batch-size')!;
  const maxLength = positiveInt(options['max-length'], '--max-length');
  const texts: string[] = [];
  for await (const [lineNumber, line] of stdinLines()) {
    if (line.trim() === '') continue;
    if (line.trimStart().startsWith('{')) {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        throw new NeoBERTError(`stdin line ${lineNumber}: starts with "{" but is not valid JSON`);
      }
      const text = (record as { text?: unknown }).text;
      if (typeof text !== 'string') throw new NeoBERTError(`stdin line ${lineNumber}: JSON object without a string "text" field`);
      texts.push(text);
    } else {
      texts.push(line);
    }
  }
  if (texts.length === 0) throw new NeoBERTError('embed: no text on stdin');
  const model = await loadModel(options);
  try {
    const started = performance.now();
    const embeddings = await model.embed(texts, {
      pooling,
      normalize: options.normalize,
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
