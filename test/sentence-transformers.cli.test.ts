// Every sentence-transformers fixture run that texts.json gives CLI flags for, through the built
// CLI (dist/cli.js) as a user would type it: embed (--prompt, --prompt-name, --truncate-dim,
// --precision, --normalize), rank --query (and --raw-scores), classify --jsonl for multi-label
// predict. Same tolerances as the library test (test/st-fixtures.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { expectQuantizedEqual, expectRowsClose, readStCase, stCaseNames, type StCase, type StRun } from './st-fixtures';
import { buildDist, runCli } from './cli-harness';

beforeAll(() => {
  buildDist();
});

const jsonl = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line));

const cases = stCaseNames().map(readStCase);
const runs: [string, StCase, StRun][] = cases.flatMap((c) => c.runs.filter((r) => r.cli !== null).map((r) => [`${c.name} ${r.name}: neobert ${r.cli!.join(' ')}`, c, r] as [string, StCase, StRun]));

describe('sentence-transformers fixtures through the CLI', () => {
  it('covers every run texts.json names CLI flags for', () => {
    expect(runs.length).toBeGreaterThanOrEqual(35);
  });

  it.each(runs)('%s', async (_, c, run) => {
    const args = [...run.cli!, '--model', c.dir];
    if (run.call === 'encode') {
      const result = await runCli(args, c.texts.join('\n') + '\n');
      expect(result.code, result.stderr).toBe(0);
      const lines = jsonl(result.stdout);
      expect(lines.map((l) => l.index)).toEqual(c.texts.map((_, i) => i));
      const flat = lines.flatMap((l) => l.embedding as number[]);
      expect(lines.every((l) => l.embedding.length === run.shape[1])).toBe(true);
      if (run.dtype === 'float32') expectRowsClose(flat, c.expected.toFloat32(run.output!), run.shape[0], `${c.name} ${run.name}`);
      else {
        expect(flat.every(Number.isInteger)).toBe(true);
        expectQuantizedEqual(flat, c.expected, run, `${c.name} ${run.name}`);
      }
    } else if (run.call === 'rank') {
      const stdin = run.documents!.join('\n') + '\n';
      const result = await runCli(args, stdin);
      expect(result.code, result.stderr).toBe(0);
      const ranked = jsonl(result.stdout);
      expect(ranked.map((r) => r.index), 'rank order').toEqual(run.order);
      const scores = Float32Array.from(run.documents!, (_, i) => ranked.find((r) => r.index === i).score);
      expectRowsClose(scores, c.expected.toFloat32(`${run.name}.scores`), 1, `${c.name} ${run.name} scores`);
      const raw = jsonl((await runCli([...args, '--raw-scores'], stdin)).stdout);
      const logits = Float32Array.from(run.documents!, (_, i) => raw.find((r) => r.index === i).score);
      expectRowsClose(logits, c.expected.toFloat32(`${run.name}.logits`), 1, `${c.name} ${run.name} --raw-scores`);
    } else {
      // classify --jsonl on pairs: each label's logit (= predict with Identity) and softmax score (= apply_softmax).
      const stdin = run.pairs!.map(([text, pair]) => JSON.stringify({ text, text_pair: pair })).join('\n') + '\n';
      const result = await runCli(args, stdin);
      expect(result.code, result.stderr).toBe(0);
      const lines = jsonl(result.stdout);
      const field = run.apply_softmax ? 'score' : 'logit';
      const got = lines.flatMap((l) => run.labels!.map((label) => l.labels.find((x: { label: string }) => x.label === label)[field] as number));
      expectRowsClose(got, c.expected.toFloat32(`${run.name}.scores`), run.shape[0], `${c.name} ${run.name}`);
      if (run.rank) {
        const rank = await runCli(['rank', '--model', c.dir, '--query', run.pairs![0][0]], `${run.pairs![0][1]}\n`);
        expect(rank.code).toBe(1);
        expect(rank.stderr).toMatch(/rank\(\) only works for models with num_labels=1/);
      }
    }
  });

  it('bad --truncate-dim and --precision are usage errors', async () => {
    const c = cases.find((x) => x.name === 'st-matryoshka-precision')!;
    for (const [flags, message] of [
      [['--truncate-dim', '33'], /--truncate-dim must be at most 32 \(the embedding width\), got "33"/],
      [['--truncate-dim', '0'], /--truncate-dim must be a positive integer, got "0"/],
      [['--precision', 'int4'], /--precision must be one of float32, int8, uint8, binary, ubinary, got "int4"/],
    ] as const) {
      const result = await runCli(['embed', '--model', c.dir, ...flags], 'a\n');
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});
