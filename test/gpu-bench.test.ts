// The GPU machine's script rehearsed here: bench/gpu/pack.sh packs (fast xz), then
// bench/gpu/run.sh --local --quick runs every step from that pack (the packed node and dawn.node,
// the carried Vulkan loader where the pack has it) on this machine's adapter at small sizes, and
// must leave a valid result file with every step's status. GPU time is scarce: this is how the
// script is known to work before it gets a machine. The rehearsal runs with --no-limits: the step
// limits are sized for the GPU machine and a busy 2-core machine can trip any of them, so they are
// tested on their own, deterministically, with a fake pack whose steps sleep (below).
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STEPS = ['unpack', 'adapter', 'check', 'forward', 'torch', 'attention', 'matmul', 'report'];

describe('bench/gpu/run.sh --local --quick', () => {
  it('packs, runs every step from the pack and writes a result JSON + SVG with each step\'s status', { timeout: 1_800_000 }, () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'neobert-gpu-bench-test-'));
    try {
      const pack = spawnSync('bash', ['bench/gpu/pack.sh', '--out', path.join(tmp, 'pack'), '--fast', '--allow-no-debs'], { cwd: ROOT, encoding: 'utf8' });
      expect(pack.status, `pack.sh failed:\n${pack.stdout}\n${pack.stderr}`).toBe(0);
      console.log(pack.stdout.trim().split('\n').slice(-2).join('\n'));
      const manifest = readFileSync(path.join(tmp, 'pack', 'MANIFEST.txt'), 'utf8');
      for (const f of ['node.xz', 'dawn.node.xz', 'js/check.mjs', 'js/forward.mjs', 'js/report.mjs', 'webgpu/index.js']) expect(manifest, f).toContain(f);

      const run = spawnSync(
        'bash',
        ['bench/gpu/run.sh', '--local', '--quick', '--no-limits', '--pack', path.join(tmp, 'pack'), '--results-dir', path.join(tmp, 'results'), '--work', path.join(tmp, 'work')],
        { cwd: ROOT, encoding: 'utf8' },
      );
      const log = `${run.stdout}\n${run.stderr}`;
      console.log(`run.sh --local --quick --no-limits: exit ${run.status}\n${log.split('\n').filter((l) => /step \w+: |adapter: |checks passed|wrote /.test(l)).join('\n')}`);
      expect(run.status, `run.sh failed:\n${log.slice(-6000)}`).toBe(0);

      const files = readdirSync(path.join(tmp, 'results'));
      const json = files.find((f) => /-local-quick-\d{4}-\d{2}-\d{2}\.json$/.test(f));
      expect(json, files.join(', ')).toBeDefined();
      expect(files).toContain(json!.replace(/\.json$/, '.svg'));
      const result = JSON.parse(readFileSync(path.join(tmp, 'results', json!), 'utf8'));
      expect(result.schema).toBe('neobert-bench/1');
      const steps: { name: string; status: string; seconds: number }[] = result.gpu.steps;
      expect(steps.map((s) => s.name)).toEqual(STEPS);
      for (const s of steps) {
        // torch is 'skipped' where no python3 has torch; everything else must have run.
        expect(s.status, `step ${s.name}`).toBe(s.name === 'torch' && s.status === 'skipped' ? 'skipped' : 'ok');
        expect(typeof s.seconds).toBe('number');
      }
      expect(result.gpu.check.failed).toBe(0);
      expect(result.gpu.check.passed).toBeGreaterThan(20);
      // Every strategy was asked for by name in the checks.
      const strategies = new Set(result.gpu.check.checks.map((c: { strategy?: string }) => c.strategy).filter(Boolean));
      for (const s of ['tiled', 'subgroup', 'subgroup8', 'subgroup4']) expect([...strategies]).toContain(s);
      // Ours at every point of the quick grid, f32 and f16 weights.
      const ours = result.results.filter((r: { engine: string }) => r.engine.startsWith('neobert-webgpu'));
      expect(ours.length).toBe(8);
      for (const r of ours) expect(r.tokensPerSecond).toBeGreaterThan(0);
      expect(result.matmul.length).toBeGreaterThan(0);
      expect(result.gpu.attention.results.length).toBeGreaterThan(0);
      if (steps.find((s) => s.name === 'torch')!.status === 'ok') expect(result.results.some((r: { engine: string }) => r.engine === 'pytorch')).toBe(true);
      expect(readFileSync(path.join(tmp, 'results', json!.replace(/\.json$/, '.svg')), 'utf8')).toMatch(/^<svg/);
      expect(existsSync(path.join(tmp, 'work', 'run.log'))).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  // A pack whose node is this machine's, and whose steps are stand-ins: each writes its --json and
  // exits at once, except those named in FAKE_SLEEP (they sleep far past any limit used here);
  // report.mjs records the steps.json it was given.
  function fakePack(dir: string): string {
    const pack = path.join(dir, 'pack');
    mkdirSync(path.join(pack, 'js'), { recursive: true });
    mkdirSync(path.join(pack, 'webgpu'), { recursive: true });
    const xz = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      const r = spawnSync('xz', ['-0', '-c', path.join(dir, name)]);
      expect(r.status, `xz: ${r.stderr}`).toBe(0);
      writeFileSync(path.join(pack, `${name}.xz`), r.stdout);
    };
    xz('node', `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} "$@"\n`);
    xz('dawn.node', 'not a real dawn.node');
    writeFileSync(path.join(pack, 'webgpu', 'index.js'), 'export {};\n');
    writeFileSync(path.join(pack, 'webgpu', 'package.json'), '{"name": "webgpu", "type": "module"}\n');
    const step = (name: string, body: string) =>
      writeFileSync(
        path.join(pack, 'js', `${name}.mjs`),
        `import { writeFileSync } from 'node:fs';\nconst arg = (n) => { const i = process.argv.indexOf(n); return i < 0 ? undefined : process.argv[i + 1]; };\n` +
          `if ((process.env.FAKE_SLEEP ?? '').split(',').includes(${JSON.stringify(name)})) await new Promise((r) => setTimeout(r, 600_000));\n${body}\n`,
      );
    step('adapter', `writeFileSync(arg('--json'), JSON.stringify({ env: { LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH }, adapter: { vendor: 'fake', architecture: 'none', description: 'stand-in' }, hasF16: false, subgroups: null, defaults: {} }));`);
    for (const name of ['check', 'forward', 'attention', 'matmul']) step(name, `writeFileSync(arg('--json'), '{}');`);
    step('report', `import { readFileSync } from 'node:fs';\nwriteFileSync(arg('--out-dir') + '/seen-steps.json', readFileSync(arg('--steps') + '/steps.json'));`);
    writeFileSync(path.join(pack, 'MANIFEST.txt'), 'fake pack for test/gpu-bench.test.ts\n');
    return pack;
  }

  function runFake(dir: string, args: string[], sleep: string): Promise<{ status: number | null; log: string; steps: { name: string; status: string; seconds: number; detail: string }[]; seen: { name: string; status: string }[] }> {
    const pack = fakePack(dir);
    const results = path.join(dir, 'results');
    return new Promise((resolve) => {
      const child = spawn('bash', ['bench/gpu/run.sh', '--local', '--quick', '--pack', pack, '--results-dir', results, '--work', path.join(dir, 'work'), '--skip', 'torch', ...args], {
        cwd: ROOT,
        env: { ...process.env, FAKE_SLEEP: sleep },
      });
      let log = '';
      child.stdout.on('data', (d) => (log += d));
      child.stderr.on('data', (d) => (log += d));
      child.on('close', (status) => {
        const steps = readFileSync(path.join(dir, 'work', 'steps', 'steps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        const seen = existsSync(path.join(results, 'seen-steps.json')) ? JSON.parse(readFileSync(path.join(results, 'seen-steps.json'), 'utf8')) : [];
        resolve({ status, log, steps, seen });
      });
    });
  }

  it('records a step past its limit as timeout, runs the next steps and the report; a spent budget skips what is left', { timeout: 600_000 }, async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'neobert-gpu-bench-limits-'));
    try {
      mkdirSync(path.join(tmp, 'limit'));
      mkdirSync(path.join(tmp, 'budget'));
      // Both runs at once: they mostly sleep. (1) attention sleeps past its 1 s --limit. (2) a 30 s
      // budget keeps 15 s for the report: check, sleeping, gets what is left (under its own 60 s
      // cap) and is stopped there; nothing is left for the steps after it; the report still runs.
      const [limit, budget] = await Promise.all([
        runFake(path.join(tmp, 'limit'), ['--limit', 'attention=1'], 'attention'),
        runFake(path.join(tmp, 'budget'), ['--budget-s', '30'], 'check'),
      ]);
      const status = (r: typeof limit) => Object.fromEntries(r.steps.map((s) => [s.name, s.status]));
      expect(limit.status, limit.log).toBe(1);
      expect(status(limit), limit.log).toEqual({ unpack: 'ok', adapter: 'ok', check: 'ok', forward: 'ok', torch: 'skipped', attention: 'timeout', matmul: 'ok', report: 'ok' });
      const attention = limit.steps.find((s) => s.name === 'attention')!;
      expect(attention.detail).toMatch(/stopped at its 1 s limit/);
      expect(attention.seconds).toBeGreaterThanOrEqual(1);
      expect(limit.steps.find((s) => s.name === 'torch')!.detail).toBe('skipped by --skip');
      // The report was given every step, the timed-out one included (its last run, its own status too).
      expect(limit.seen.map((s) => `${s.name}:${s.status}`)).toEqual(['unpack:ok', 'adapter:ok', 'check:ok', 'forward:ok', 'torch:skipped', 'attention:timeout', 'matmul:ok', 'report:ok']);

      expect(budget.status, budget.log).toBe(1);
      const b = status(budget);
      expect([b.unpack, b.adapter, b.report], budget.log).toEqual(['ok', 'ok', 'ok']);
      const check = budget.steps.find((s) => s.name === 'check')!;
      // Stopped by the budget (limit under its 60 s cap), or, had unpacking taken most of the
      // budget, skipped before it began: either way the budget, not the step, decided.
      if (check.status === 'timeout') expect(Number(/stopped at its (\d+) s limit/.exec(check.detail)?.[1])).toBeLessThanOrEqual(15);
      else expect(check.detail).toMatch(/no time left in the 30 s budget/);
      for (const name of ['forward', 'attention', 'matmul']) {
        const s = budget.steps.find((x) => x.name === name)!;
        expect([s.status, s.detail], name).toEqual(['skipped', 'no time left in the 30 s budget']);
      }
      expect(budget.seen.map((s) => s.name)).toEqual(['unpack', 'adapter', 'check', 'forward', 'torch', 'attention', 'matmul', 'report']);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
