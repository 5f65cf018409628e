// f16 arithmetic end to end (ModelOptions.arithmetic 'f16', forced whatever the adapter's default):
// every registered model fixture (test/fixtures.ts modelFixtures: every family but those
// NOT_YET_SUPPORTED) with f16 matmul weights, matmul operands and attention q/k/v in f16 (f32
// products, sums, softmax; norms, residual stream and pooling f32) against the PyTorch float32
// outputs: rel L2 < 1e-2 on every output ([B, T, ...] on real tokens), NaN/Inf fail. On a device
// without shader-f16 the model must refuse clearly.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadCheckpoint, type LoadedCheckpoint } from '../src/checkpoint';
import { AttentionKernel, MatmulKernel, RopeQkvKernel } from '../src/kernels';
import { folderSource } from '../src/sources/folder';
import type { Runner } from '../src/runner';
import { parseSafetensors, type SafetensorsFile } from '../src/safetensors';
import { compareArrays } from './compare';
import { fixtureOutputs, fixtureRequest, fixtureRunner, modelFixtures, realRows } from './fixtures';
import { testGPU } from './gpu-context';

const CASES = modelFixtures()
  .filter((f) => !f.notYetSupported)
  .map((f): [string, string] => [f.id, f.dir]);

describe.each(CASES)('fixture %s, f16 arithmetic forced', (caseName, dir) => {
  let runner: Runner | null = null;
  let loaded: LoadedCheckpoint;
  let expected: SafetensorsFile;
  const created: { matmul: string[]; attention: string[]; rope: string[] } = { matmul: [], attention: [], rope: [] };
  beforeAll(async () => {
    const { device } = await testGPU();
    loaded = await loadCheckpoint(folderSource(dir));
    const file = path.join(dir, 'expected.safetensors');
    expected = parseSafetensors(new Uint8Array(await readFile(file)), file);
    const options = { dtype: 'f16', arithmetic: 'f16' } as const;
    if (!device.features.has('shader-f16')) {
      await expect(loaded.architecture.createModel(device, loaded.config, loaded.weights, options)).rejects.toThrow(/shader-f16/);
      return;
    }
    // Record what the model builds: every matmul and attention kernel must be an f16-arithmetic one.
    const original = { matmul: MatmulKernel.create, attention: AttentionKernel.create, rope: RopeQkvKernel.create };
    vi.spyOn(MatmulKernel, 'create').mockImplementation(async (...args) => {
      const k = await original.matmul.apply(MatmulKernel, args);
      created.matmul.push(`${k.name}:${k.arithmetic}`);
      return k;
    });
    vi.spyOn(AttentionKernel, 'create').mockImplementation(async (...args) => {
      const k = await original.attention.apply(AttentionKernel, args);
      created.attention.push(`${k.name}:${k.arithmetic}`);
      return k;
    });
    vi.spyOn(RopeQkvKernel, 'create').mockImplementation(async (...args) => {
      const k = await original.rope.apply(RopeQkvKernel, args);
      created.rope.push(`${k.name}:${k.outputDtype}`);
      return k;
    });
    const model = await loaded.architecture.createModel(device, loaded.config, loaded.weights, options);
    vi.restoreAllMocks();
    runner = await fixtureRunner(device, model, loaded);
  });
  afterAll(() => {
    vi.restoreAllMocks();
    runner?.destroy();
    runner?.head?.destroy();
    runner?.model.destroy();
  });

  it('matches the float32 reference within rel L2 1e-2 on every output, no NaN/Inf', async () => {
    if (!runner) return; // no shader-f16: the refusal was checked above
    expect(runner.model.dtype).toBe('f16');
    expect(created.matmul.length).toBeGreaterThan(0);
    expect(created.matmul.filter((n) => !n.endsWith(':f16')), 'matmul kernels not in f16 arithmetic').toEqual([]);
    // DeBERTa's disentangled attention has no f16 variant: its matmuls are f16, q/k/v and attention f32.
    const disentangled = caseName.startsWith('deberta-v2/');
    if (!disentangled) expect(created.attention.length).toBeGreaterThan(0);
    expect(created.attention.filter((n) => !/^attention\.f16math(\+relbias)?:f16$/.test(n)), 'attention kernels not in f16 arithmetic').toEqual([]);
    if (!disentangled) expect(created.rope.filter((n) => !n.endsWith('.f16:f16')), 'rope_qkv kernels not writing f16').toEqual([]);
    const request = fixtureRequest(expected, runner.model.sequenceInputs);
    const wanted = fixtureOutputs(expected, loaded.sentenceTransformers, loaded.config);
    const result = await runner.forward({ ...request, outputs: [...new Set(wanted.map(([, o]) => o))] });
    const report: string[] = [];
    for (const [name, output, after] of wanted) {
      const shape = expected.entry(name).shape;
      let ref = expected.toFloat32(name);
      let got = after ? after(result[output]!) : result[output]!;
      // [B, T, X] compared on real tokens (padded rows are meaningless).
      if (shape.length === 3) {
        ref = realRows(ref, request.attentionMask, shape[2]);
        got = realRows(got, request.attentionMask, shape[2]);
      }
      expect(got.length, `${name} length`).toBe(ref.length);
      const nonFinite = got.findIndex((v) => !Number.isFinite(v));
      expect(nonFinite, `${name}: non-finite value at ${nonFinite}`).toBe(-1);
      const stats = compareArrays(got, ref, { atol: 0, rtol: 0, label: name });
      report.push(`[f16 arithmetic] ${caseName} ${name}: rel L2 ${stats.relL2.toExponential(2)}, max abs ${stats.maxAbs.toExponential(2)} (max|ref| ${stats.maxRef.toFixed(3)})`);
      expect(stats.relL2, `${name} relative L2 error\n${stats.lines.join('\n')}`).toBeLessThan(1e-2);
    }
    console.log(report.join('\n'));
  });
});

describe('modelArithmetic: the default', () => {
  it("is 'f16' only for f16 weights on a device with shader-f16 whose matmul strategy is 'tiled'", async () => {
    const { modelArithmetic } = await import('../src/models/common');
    const fake = (features: string[], description: string) =>
      ({ features: new Set(features), adapterInfo: { vendor: 'x', architecture: '', device: '', description, subgroupMinSize: 32 } }) as unknown as GPUDevice;
    const gpu = fake(['shader-f16', 'subgroups'], 'Some GPU');
    const cpu = fake(['shader-f16', 'subgroups'], 'llvmpipe (LLVM 19)');
    expect(modelArithmetic(gpu, { dtype: 'f16' })).toBe('f16');
    expect(modelArithmetic(gpu, {})).toBe('f32');
    expect(modelArithmetic(gpu, { dtype: 'f16', matmulStrategy: 'subgroup' })).toBe('f32');
    expect(modelArithmetic(fake(['subgroups'], 'Some GPU'), { dtype: 'f16' })).toBe('f32');
    expect(modelArithmetic(cpu, { dtype: 'f16' })).toBe('f32'); // CPU adapter: the subgroup kernels
    expect(modelArithmetic(cpu, { dtype: 'f16', arithmetic: 'f16' })).toBe('f16');
    expect(modelArithmetic(gpu, { dtype: 'f16', arithmetic: 'f32' })).toBe('f32');
  });
});
