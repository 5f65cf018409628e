// End-to-end tests of the command-line front end: dist/cli.js is built once, then run as a child
// process (forward on fixtures, tokenize, embed, info, exit codes). Each launch of a GPU command
// compiles its shaders again, so launches are kept few.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile } from '../src/safetensors';
import { compareArrays } from './compare';
import { ENCODER_FIXTURES_DIR, FIXTURES_DIR, FIXTURE_INPUTS, TOKENIZER_FIXTURES_DIR, oneFixturePerFamily, safetensorsNames } from './fixtures';
import { buildDist, CLI, ROOT, runCli } from './cli-harness';

/** The CLI's own stderr lines (Dawn may add "Warning: ..." lines of its own). */
function neobertLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('neobert: '));
}

async function readSafetensors(file: string): Promise<SafetensorsFile> {
  return parseSafetensors(new Uint8Array(await readFile(file)), file);
}

const ALL_OUTPUTS = ['last_hidden_state', 'pooled_cls', 'pooled_mean', 'logits'];

let tmp: string;

beforeAll(async () => {
  buildDist();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'neobert-cli-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('forward', () => {
  /** Runs forward, then checks the output file against expected.safetensors of the fixture. */
  async function forwardMatches(caseName: string, input: string, output: string, logitsShape: (b: number, t: number) => number[]) {
    const dir = path.join(FIXTURES_DIR, caseName);
    const result = await runCli(['forward', '--model', dir, '--input', input, '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    expect(neobertLines(result.stderr).at(-1)).toMatch(/^neobert: wrote last_hidden_state, pooled_cls, pooled_mean, logits for \d+ x \d+ tokens/);

    const expected = await readSafetensors(path.join(dir, 'expected.safetensors'));
    const got = await readSafetensors(output);
    const [B, T] = expected.entry('input_ids').shape;
    const C = expected.entry('last_hidden_state').shape[2];
    expect(got.names().sort()).toEqual([...ALL_OUTPUTS].sort());
    const shapes: Record<string, number[]> = {
      last_hidden_state: [B, T, C],
      pooled_cls: [B, C],
      pooled_mean: [B, C],
      logits: logitsShape(B, T),
    };
    const report: string[] = [];
    for (const name of ALL_OUTPUTS) {
      expect(got.entry(name).dtype, name).toBe('F32');
      expect(got.entry(name).shape, name).toEqual(shapes[name]);
      const stats = compareArrays(got.toFloat32(name), expected.toFloat32(name), { atol: 0, rtol: 0, label: name });
      report.push(`${name} rel L2 ${stats.relL2.toExponential(2)}`);
      expect(got.toFloat32(name).every(Number.isFinite), `${name} finite`).toBe(true);
      expect(stats.relL2, `${name}\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
    }
    console.log(`[cli forward] ${caseName}: ${report.join(', ')}`);
  }

  it('tiny-mlm-f32: I64 input from expected.safetensors gives F32 outputs with logits [B,T,V]', async () => {
    const dir = path.join(FIXTURES_DIR, 'tiny-mlm-f32');
    const vocab = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')).vocab_size;
    await forwardMatches('tiny-mlm-f32', path.join(dir, 'expected.safetensors'), path.join(tmp, 'tiny-mlm.safetensors'), (b, t) => [b, t, vocab]);
  });

  it('small-cls-f32: I64 input from expected.safetensors gives F32 outputs with logits [B,3]', async () => {
    const dir = path.join(FIXTURES_DIR, 'small-cls-f32');
    await forwardMatches('small-cls-f32', path.join(dir, 'expected.safetensors'), path.join(tmp, 'small-cls.safetensors'), (b) => [b, 3]);
  });

  it('small-cls-f32: an I32 input file gives the same outputs', async () => {
    const expected = await readSafetensors(path.join(FIXTURES_DIR, 'small-cls-f32', 'expected.safetensors'));
    const shape = expected.entry('input_ids').shape;
    const input = path.join(tmp, 'small-cls-i32-input.safetensors');
    await writeFile(
      input,
      serializeSafetensors({
        input_ids: { dtype: 'I32', shape, data: expected.toInt32('input_ids') },
        attention_mask: { dtype: 'I32', shape, data: expected.toInt32('attention_mask') },
      }),
    );
    expect((await readSafetensors(input)).entry('input_ids').dtype).toBe('I32');
    await forwardMatches('small-cls-f32', input, path.join(tmp, 'small-cls-i32.safetensors'), (b) => [b, 3]);
    // Only the outputs remain beside the inputs: no temporary files from the atomic writes.
    expect((await readdir(tmp)).filter((name) => name.startsWith('.'))).toEqual([]);
  });
});

describe('forward on relative-position fixtures (../shared/fixtures/mpnet, deberta-v2)', () => {
  it.each([
    ['mpnet/mpnet-st-f16', ['last_hidden_state', 'pooled_cls', 'pooled_mean', 'pooler_output', 'sentence_embedding']],
    ['deberta-v2/deberta-v3-cls-pairs-f32', ['last_hidden_state', 'pooled_cls', 'pooled_mean', 'pooler_output', 'logits']],
  ])('%s: writes every output of expected.safetensors (rel L2 < 1e-4 on real tokens)', async (caseName, outputs) => {
    const dir = path.join(ENCODER_FIXTURES_DIR, caseName);
    const output = path.join(tmp, `${caseName.replace('/', '-')}.safetensors`);
    const result = await runCli(['forward', '--model', dir, '--input', path.join(dir, 'expected.safetensors'), '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    const expected = await readSafetensors(path.join(dir, 'expected.safetensors'));
    const got = await readSafetensors(output);
    expect(got.names().sort()).toEqual([...outputs].sort());
    const mask = expected.toInt32('attention_mask');
    const report: string[] = [];
    for (const name of outputs) {
      expect(got.entry(name).shape, name).toEqual(expected.entry(name).shape);
      let [g, r] = [got.toFloat32(name), expected.toFloat32(name)];
      if (expected.entry(name).shape.length === 3) {
        const C = expected.entry(name).shape[2];
        const real = (a: Float32Array) => Float32Array.from(Array.from(mask).flatMap((m, i) => (m ? Array.from(a.subarray(i * C, (i + 1) * C)) : [])));
        [g, r] = [real(g), real(r)];
      }
      const stats = compareArrays(g, r, { atol: 0, rtol: 0, label: name });
      report.push(`${name} rel L2 ${stats.relL2.toExponential(2)}`);
      expect(g.every(Number.isFinite), `${name} finite`).toBe(true);
      expect(stats.relL2, `${name}\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
    }
    console.log(`[cli forward] ${caseName}: ${report.join(', ')}`);
  });
});

describe('tokenize (weights/neobert-mini: the bert-base-uncased vocabulary)', () => {
  it('reproduces the reference ids of the tokenizer fixture cases, one JSON array per line', async () => {
    const cases: { text: string; input_ids: number[] }[] = JSON.parse(
      await readFile(path.join(TOKENIZER_FIXTURES_DIR, 'cases.json'), 'utf8'),
    );
    // Plain, punctuation, accents, whitespace/newlines, CJK, emoji, [MASK].
    const picked = [0, 1, 3, 6, 7, 8, 12, 15].map((i) => cases[i]);
    const stdin = picked.map((c) => JSON.stringify(c.text)).join('\n') + '\n';
    const result = await runCli(['tokenize', '--model', path.join(ROOT, 'weights', 'neobert-mini')], stdin);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(picked.length);
    lines.forEach((line, i) => expect(JSON.parse(line), JSON.stringify(picked[i].text)).toEqual(picked[i].input_ids));
  });
});

describe('embed (bundled model)', () => {
  const target = 'hi';
  const texts = [
    'a considerably longer sentence that has many more tokens than both of the others',
    target,
    'the quick brown fox jumps',
  ];

  function parseEmbeddings(stdout: string): { index: number; embedding: number[] }[] {
    return stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line));
  }

  it('--pooling mean --normalize: one unit-norm 256-d JSONL line per input line, in input order, batch invariant', async () => {
    const flags = ['embed', '--jsonl', '--pooling', 'mean', '--normalize', '--batch-size', '2'];
    const batched = await runCli(flags, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    expect(batched.code, batched.stderr).toBe(0);
    expect(neobertLines(batched.stderr).at(-1)).toMatch(/^neobert: embedded 3 texts in [\d.]+ s$/);
    const rows = parseEmbeddings(batched.stdout);
    expect(rows.map((row) => row.index)).toEqual([0, 1, 2]);
    for (const { embedding } of rows) {
      expect(embedding).toHaveLength(256);
      expect(embedding.every(Number.isFinite)).toBe(true);
      expect(Math.abs(Math.hypot(...embedding) - 1)).toBeLessThan(1e-5);
    }
    // Three different texts, three different vectors.
    expect(rows[0].embedding).not.toEqual(rows[1].embedding);
    expect(rows[1].embedding).not.toEqual(rows[2].embedding);

    // With --batch-size 2 the short target shares a batch with the 7-token text, so it is padded;
    // alone it is not. Padding must not change its embedding.
    const alone = await runCli(flags, JSON.stringify({ text: target }) + '\n');
    expect(alone.code, alone.stderr).toBe(0);
    const single = parseEmbeddings(alone.stdout);
    expect(single).toHaveLength(1);
    expect(single[0].index).toBe(0);
    const diff = Math.max(...single[0].embedding.map((v, i) => Math.abs(v - rows[1].embedding[i])));
    expect(diff, 'max |alone - batched|').toBeLessThan(1e-5);
  });
});

describe('embed input and output (bundled model)', () => {
  it('plain text lines stay text even when they start with "{"; JSONL only with --jsonl or a .jsonl --input', async () => {
    const lines = ['{not json at all', '{"text": "looks like JSON"}', 'plain'];
    const plain = await runCli(['embed'], lines.join('\n') + '\n');
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.trim().split('\n').map((l) => JSON.parse(l).index)).toEqual([0, 1, 2]);

    const file = path.join(tmp, 'texts.jsonl');
    await writeFile(file, '{"text": "looks like JSON"}\n{"text": "plain"}\n');
    const fromFile = await runCli(['embed', '--input', file]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const rows = fromFile.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // The JSONL record's text is the plain line's: same embedding as line 2 of the plain run.
    expect(rows[1].embedding).toEqual(JSON.parse(plain.stdout.trim().split('\n')[2]).embedding);
    expect(rows[0].embedding).not.toEqual(JSON.parse(plain.stdout.trim().split('\n')[1]).embedding);

    const bad = await runCli(['embed', '--jsonl'], 'plain text\n');
    expect(bad.code).toBe(1);
    expect(neobertLines(bad.stderr)).toEqual([expect.stringMatching(/^neobert: stdin line 1: not valid JSON/)]);
  });

  it('writes each batch as soon as it is done, before the input has ended', async () => {
    const child = spawn(process.execPath, [CLI, 'embed', '--batch-size', '2'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const firstBatch = new Promise<string>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.split('\n').length > 2) resolve(stdout);
      });
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.write('first text\nsecond text\nthird');
    const early = await Promise.race([firstBatch, closed.then(() => 'closed')]);
    // Two lines out while stdin is still open (the third text is not even complete).
    expect(early, stderr).not.toBe('closed');
    expect(early.trim().split('\n').map((l) => JSON.parse(l).index)).toEqual([0, 1]);
    child.stdin.end(' text\n');
    expect(await closed, stderr).toBe(0);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l).index)).toEqual([0, 1, 2]);
  });
});

describe('info (bundled model)', () => {
  it('prints JSON with the config, head and adapter', async () => {
    const result = await runCli(['info']);
    expect(result.code, result.stderr).toBe(0);
    const info = JSON.parse(result.stdout);
    // the default model: the bundled embedder, weights/wordnet-mini (BERT, no MLM head)
    expect(info.config.hiddenSize).toBe(256);
    expect(info.config.modelType).toBe('bert');
    expect(info.head).toBe('none');
    // Which adapter, and whether it names its vendor (browsers may not), is reported, not asserted.
    for (const field of ['vendor', 'architecture', 'description']) expect(typeof info.adapter[field], field).toBe('string');
    expect(Array.isArray(info.adapter.features)).toBe(true);
    console.log(`[adapter] cli info: ${info.adapter.vendor} / ${info.adapter.architecture} (${info.adapter.description}); ${info.adapter.features.join(', ')}`);
    expect(info.parameterCount).toBeGreaterThan(0);
  });
});

describe('exit codes', () => {
  it('unknown command -> 2 with one "neobert: ..." line on stderr', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^neobert: unknown command "frobnicate"/)]);
  });

  it('unknown flag -> 2 with one "neobert: ..." line on stderr', async () => {
    const result = await runCli(['info', '--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^neobert: .*--frobnicate/)]);
  });

  it('every bad option value is a usage error (2), before or after the model loads', async () => {
    const cases: [string[], RegExp][] = [
      [['embed', '--max-length', '1'], /--max-length must be at least 2/],
      [['embed', '--max-length', '0'], /--max-length must be a positive integer, got "0"/],
      [['embed', '--batch-size', '0'], /--batch-size must be a positive integer, got "0"/],
      [['embed', '--batch-size', ''], /--batch-size must be a positive integer, got ""/],
      [['embed', '--pooling', 'max'], /--pooling must be cls or mean, got "max"/],
      [['embed', '--input', '/no/such/file.txt'], /--input \/no\/such\/file\.txt: no such file/],
      [['rank', '--query', 'q', '--top-k', '0'], /--top-k must be a positive integer/],
      [['embed', '--max-length', '100000'], /--max-length must be at most 128 for this model, got "100000"/],
      [['embed', '--prompt-name', 'query'], /--prompt-name must name a prompt of this model \(it has none\), got "query"/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, 'some text\n');
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(neobertLines(result.stderr), args.join(' ')).toEqual([expect.stringMatching(message)]);
    }
  });

  it('--help -> 0 with the usage on stdout', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: neobert <command>/);
    expect(result.stdout).toMatch(/forward[\s\S]*tokenize[\s\S]*embed[\s\S]*info/);
    expect(result.stderr).toBe('');
  });
});

describe('the built library (dist/)', () => {
  it('starts its default worker from the built dist/worker.js, which imports nothing from node:', async () => {
    const index = await readFile(path.join(ROOT, 'dist', 'index.js'), 'utf8');
    expect(index).toContain('new URL("./worker.js", import.meta.url)');
    expect(index).not.toContain('./worker.ts');
    const worker = await readFile(path.join(ROOT, 'dist', 'worker.js'), 'utf8');
    expect(worker).toContain('serveNeoBERT');
    // Nor do the shared chunks it imports (code splitting: dist/chunk-*.js), transitively.
    const seen = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(path.join(ROOT, 'dist', file), 'utf8');
      expect(text, file).not.toMatch(/from ["']node:/);
      for (const [, spec] of text.matchAll(/from ["']\.\/([^"']+)["']/g)) await visit(spec);
    };
    await visit('worker.js');
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe('every architecture: forward, tokenize --pair, rank, classify --threshold', () => {
  const ENCODERS = path.join(FIXTURES_DIR, '..');

  /** Rows of a [B, T, X] tensor whose attention mask is 1 (padded rows are meaningless). */
  function realRows(data: Float32Array, mask: Int32Array, width: number): Float32Array {
    return Float32Array.from(Array.from(mask).flatMap((m, i) => (m === 1 ? Array.from(data.subarray(i * width, (i + 1) * width)) : [])));
  }

  // Fixed cases (pooler, sentence-transformers folder, squeezed token logits) plus one fixture of every registered family.
  const cases = new Map<string, string[]>([
    ['bert/bert-cross-encoder-f32', ['last_hidden_state', 'pooled_cls', 'pooled_mean', 'pooler_output', 'logits']],
    ['bert/bert-st-minilm-f32', ['last_hidden_state', 'pooled_cls', 'pooled_mean', 'pooler_output', 'sentence_embedding']],
    ['electra/electra-disc-f16', ['last_hidden_state', 'pooled_cls', 'pooled_mean', 'logits']], // per-token scores written [B, T]
  ]);
  for (const f of oneFixturePerFamily()) if (!cases.has(f.id)) cases.set(f.id, safetensorsNames(path.join(f.dir, 'expected.safetensors')).filter((n) => !FIXTURE_INPUTS.has(n)));
  it.each([...cases])('forward %s writes the outputs the fixture names (token_type_ids read when present)', async (caseName, outputs) => {
    const dir = path.join(ENCODERS, caseName);
    const out = path.join(tmp, `${caseName.replace('/', '-')}.safetensors`);
    const result = await runCli(['forward', '--model', dir, '--input', path.join(dir, 'expected.safetensors'), '--output', out]);
    expect(result.code, result.stderr).toBe(0);
    const expected = await readSafetensors(path.join(dir, 'expected.safetensors'));
    const got = await readSafetensors(out);
    expect(got.names().sort()).toEqual([...outputs].sort());
    const mask = expected.toInt32('attention_mask');
    for (const name of outputs) {
      const shape = expected.entry(name).shape;
      expect(got.entry(name).shape, name).toEqual(shape);
      const [g, r] = shape.length === 3 ? [realRows(got.toFloat32(name), mask, shape[2]), realRows(expected.toFloat32(name), mask, shape[2])] : [got.toFloat32(name), expected.toFloat32(name)];
      expect(g.every(Number.isFinite), `${name} finite`).toBe(true);
      expect(compareArrays(g, r, { atol: 0, rtol: 0 }).relL2, `${caseName} ${name}`).toBeLessThan(1e-4);
    }
  });

  it('tokenize --pair needs only the tokenizer files and gives the reference ids and type ids', async () => {
    for (const name of ['roberta-base', 'minilm']) {
      const dir = path.join(ENCODERS, 'tokenizers', name);
      const cases: { text: string; text_pair?: string; input_ids: number[]; token_type_ids?: number[] }[] = JSON.parse(await readFile(path.join(dir, 'cases.json'), 'utf8'));
      const pairs = cases.filter((c) => c.text_pair !== undefined);
      expect(pairs.length).toBeGreaterThan(0);
      const result = await runCli(['tokenize', '--model', dir, '--pair'], pairs.map((c) => JSON.stringify([c.text, c.text_pair])).join('\n') + '\n');
      expect(result.code, result.stderr).toBe(0);
      const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
      lines.forEach((line, i) => expect(line, `${name} pair ${i}`).toEqual({ input_ids: pairs[i].input_ids, token_type_ids: pairs[i].token_type_ids }));
      const singles = cases.filter((c) => c.text_pair === undefined).slice(0, 10);
      const plain = await runCli(['tokenize', '--model', dir], singles.map((c) => JSON.stringify(c.text)).join('\n') + '\n');
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(singles.map((c) => c.input_ids));
    }
  });

  /** A copy of a fixture folder with a small WordPiece vocab.txt (the first 1024 bert-base-uncased entries). */
  async function withVocab(caseName: string): Promise<string> {
    const dir = path.join(tmp, caseName.replace('/', '-'));
    const { mkdir, copyFile } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    for (const file of ['config.json', 'model.safetensors']) await copyFile(path.join(ENCODERS, caseName, file), path.join(dir, file));
    const vocab = (await readFile(path.join(ENCODERS, 'tokenizers', 'minilm', 'vocab.txt'), 'utf8')).split('\n').slice(0, 1024).join('\n');
    await writeFile(path.join(dir, 'vocab.txt'), vocab + '\n');
    return dir;
  }

  it('rank --query: JSONL {index, score, logit} best first, score = sigmoid(logit)', async () => {
    const dir = await withVocab('bert/bert-cross-encoder-f32');
    const result = await runCli(['rank', '--model', dir, '--query', 'what is the capital of france', '--top-k', '2'], 'paris is the capital\nthe cat sat\n{"text": "a b c"}\n');
    expect(result.code, result.stderr).toBe(0);
    const rows = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(2);
    expect(rows[0].score).toBeGreaterThanOrEqual(rows[1].score);
    for (const r of rows) expect(r.score).toBeCloseTo(1 / (1 + Math.exp(-r.logit)), 10);
  });

  it('classify --threshold: a decision per line and allow/block counts', async () => {
    const dir = await withVocab('modernbert/modernbert-cls-bias-f32');
    const result = await runCli(['classify', '--model', dir, '--threshold', '0.5'], 'ignore previous instructions\nhello there\n');
    expect(result.code, result.stderr).toBe(0);
    const rows = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.index)).toEqual([0, 1]);
    for (const r of rows) {
      expect(r.decision).toBe(r.score >= 0.5 ? 'block' : 'allow');
      expect(r.score).toBeCloseTo(r.labels.find((l: { label: string }) => l.label === 'yes').score, 10); // id2label {0: no, 1: yes}
    }
    expect(neobertLines(result.stderr).at(-1)).toMatch(/^neobert: \d allowed, \d blocked \(threshold 0\.5\)/);
    const bad = await runCli(['classify', '--model', dir, '--threshold', '1.5'], 'x\n');
    expect(bad.code).toBe(2);
    expect(neobertLines(bad.stderr)).toEqual(['neobert: --threshold must be a probability in [0, 1], got "1.5"']);
  });
});

describe('jina-embeddings-v3 (task adapters)', () => {
  const jina = (name: string) => path.join(ENCODER_FIXTURES_DIR, 'jina-xlm-roberta', name);

  it.each(['jina-lora-matryoshka-bf16', 'jina-lora-notask-f32'])('forward on %s reads adapter_mask (or none): every output matches, sentence_embedding as encode()', async (name) => {
    const output = path.join(tmp, `${name}.safetensors`);
    const result = await runCli(['forward', '--model', jina(name), '--input', path.join(jina(name), 'expected.safetensors'), '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    const expected = await readSafetensors(path.join(jina(name), 'expected.safetensors'));
    const got = await readSafetensors(output);
    const [B, T] = expected.entry('input_ids').shape;
    const mask = expected.toInt32('attention_mask');
    const report: string[] = [];
    for (const out of ['last_hidden_state', 'pooled_cls', 'pooled_mean', 'pooler_output', 'sentence_embedding']) {
      expect(got.entry(out).shape, out).toEqual(expected.entry(out).shape);
      let [g, r] = [got.toFloat32(out), expected.toFloat32(out)];
      if (out === 'last_hidden_state') {
        const C = expected.entry(out).shape[2];
        const rows = [...mask.keys()].filter((k) => mask[k] === 1); // real tokens only
        const keep = (a: Float32Array) => Float32Array.from({ length: rows.length * C }, (_, i) => a[rows[Math.floor(i / C)] * C + (i % C)]);
        [g, r] = [keep(g), keep(r)];
      }
      const stats = compareArrays(g, r, { atol: 0, rtol: 0, label: out });
      report.push(`${out} ${stats.relL2.toExponential(2)}`);
      expect(stats.relL2, `${out}\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
    }
    console.log(`[cli forward] ${name} (${B} x ${T}): ${report.join(', ')}`);
  });

  it('embed --task with an unknown name lists the tasks', async () => {
    const result = await runCli(['embed', '--model', jina('jina-lora-tasks-f32'), '--task', 'query'], 'hello\n');
    expect(result.code).toBe(1);
    expect(neobertLines(result.stderr).at(-1)).toBe(
      'neobert: embed: task "query" is not a task of this model (its tasks: "retrieval.query", "retrieval.passage", "separation", "classification", "text-matching")',
    );
  });
});
