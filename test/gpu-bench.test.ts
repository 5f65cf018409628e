// The GPU machine's script rehearsed here: bench/gpu/pack.sh packs (fast xz), then
// bench/gpu/run.sh --local --quick runs every step from that pack (the packed node and dawn.node,
// the carried Vulkan loader where the pack has it) on this machine's adapter at small sizes, and
// must leave a valid result file with every step's status. GPU time is scarce: this is how the
// script is known to work before it gets a machine.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STEPS = ['unpack', 'adapter', 'check', 'forward', 'torch', 'attention', 'matmul', 'report'];

describe('bench/gpu/run.sh --local --quick', () => {
  it('packs, runs every step from the pack and writes a result JSON + SVG with each step\'s status', { timeout: 300_000 }, () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'neobert-gpu-bench-test-'));
    try {
      const pack = spawnSync('bash', ['bench/gpu/pack.sh', '--out', path.join(tmp, 'pack'), '--fast', '--allow-no-debs'], { cwd: ROOT, encoding: 'utf8' });
      expect(pack.status, `pack.sh failed:\n${pack.stdout}\n${pack.stderr}`).toBe(0);
      console.log(pack.stdout.trim().split('\n').slice(-2).join('\n'));
      const manifest = readFileSync(path.join(tmp, 'pack', 'MANIFEST.txt'), 'utf8');
      for (const f of ['node.xz', 'dawn.node.xz', 'js/check.mjs', 'js/forward.mjs', 'js/report.mjs', 'webgpu/index.js']) expect(manifest, f).toContain(f);

      const started = Date.now();
      const run = spawnSync(
        'bash',
        ['bench/gpu/run.sh', '--local', '--quick', '--pack', path.join(tmp, 'pack'), '--results-dir', path.join(tmp, 'results'), '--work', path.join(tmp, 'work')],
        { cwd: ROOT, encoding: 'utf8' },
      );
      const log = `${run.stdout}\n${run.stderr}`;
      console.log(`run.sh --local --quick: exit ${run.status} in ${((Date.now() - started) / 1000).toFixed(0)} s\n${log.split('\n').filter((l) => /step \w+: |adapter: |checks passed|wrote /.test(l)).join('\n')}`);
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
});
