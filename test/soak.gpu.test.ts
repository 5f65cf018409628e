// Soak, deterministic and sized for CI: 120 mixed calls (300 with NEOBERT_TEST_SLOW=1, `npm run
// test:slow`) (embed, embedMatrix, fillMask, classify,
// forward with logits, and bad calls) issued a few at a time on two models sharing one device.
// Every call succeeds or fails with a typed error; plans stay few; after dispose() every plan is
// destroyed and every GPU buffer the models created is freed.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { NeoBERTError } from '../src/errors';
import { NeoBERT } from '../src/encoder';
import { FIXTURES_DIR } from './fixtures';
import { testGPU } from './gpu-context';

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CALLS = process.env.NEOBERT_TEST_SLOW === '1' ? 300 : 120;

const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'GPUs', 'run', 'fast', 'naïve', '日本', '😀', 'and', 'then', 'it', 'rained', '.', ','];

describe(`soak: ${CALLS} mixed calls on two models sharing a device`, () => {
  it('typed errors only, few plans, and nothing left after dispose()', async () => {
    const { device } = await testGPU();
    const live = new Set<GPUBuffer>();
    const createBuffer = device.createBuffer;
    device.createBuffer = function (descriptor: GPUBufferDescriptor) {
      const buffer = createBuffer.call(device, descriptor);
      live.add(buffer);
      const destroy = buffer.destroy;
      buffer.destroy = function () {
        live.delete(buffer);
        return destroy.call(buffer);
      };
      return buffer;
    };
    const outcomes: Record<string, number> = {};
    let mlm: NeoBERT | undefined;
    let cls: NeoBERT | undefined;
    try {
      [mlm, cls] = await Promise.all([NeoBERT.load('bundled-mlm', { device }), NeoBERT.load(path.join(FIXTURES_DIR, 'small-cls-f32'), { device })]);
      const r = rng(7);
      const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
      const text = (words: number) => Array.from({ length: words }, () => pick(WORDS)).join(' ');
      const ids = (n: number) => Array.from({ length: n }, () => 5 + Math.floor(r() * 2000)); // within both vocabularies (2048, 30522)
      const m = mlm;
      const c = cls;
      const calls: (() => Promise<unknown>)[] = [
        () => m.embed(Array.from({ length: 1 + Math.floor(r() * 5) }, () => text(1 + Math.floor(r() * 80)))),
        () => m.embed([text(1 + Math.floor(r() * 300))], { pooling: 'mean', normalize: true }),
        () => m.embedMatrix(Array.from({ length: 1 + Math.floor(r() * 3) }, () => ids(1 + Math.floor(r() * 200))), { batchSize: 2 }),
        () => m.fillMask(`${text(Math.floor(r() * 200))} [MASK] ${text(Math.floor(r() * 50))}`, { topK: 3 }),
        () => c.classify(Array.from({ length: 1 + Math.floor(r() * 4) }, () => ids(2 + Math.floor(r() * 100)))),
        () => {
          const L = 1 + Math.floor(r() * 64);
          return m.forward({ inputIds: ids(2 * L), attentionMask: new Array(2 * L).fill(1), batch: 2, seqLen: L, outputs: ['logits', 'pooledCls'] });
        },
        // Bad calls: each must be a typed error.
        () => m.embed([text(3), null as unknown as string]),
        () => m.embed(['x'], { maxLength: pick([0, -1, 1e9, NaN, '16']) as number }),
        () => m.fillMask(text(5)),
        () => c.fillMask([101, 103, 102]),
        () => m.forward({ inputIds: [1, 2], attentionMask: [1, 1], batch: 1, seqLen: 2, outputs: ['nope' as 'logits'] }),
        () => m.embed([ids(10).concat([1e7])]),
      ];
      for (let done = 0; done < CALLS; ) {
        const group = Math.min(CALLS - done, 1 + Math.floor(r() * 4));
        await Promise.all(
          Array.from({ length: group }, async (_, k) => {
            const which = Math.floor(r() * calls.length);
            let outcome = 'ok';
            try {
              await calls[which]();
            } catch (e) {
              if (!(e instanceof NeoBERTError)) throw new Error(`call ${done + k} (kind ${which}): untyped ${(e as Error)?.name}: ${(e as Error)?.message}`);
              outcome = e.name;
            }
            const key = `${which}:${outcome}`;
            outcomes[key] = (outcomes[key] ?? 0) + 1;
          }),
        );
        done += group;
      }
      for (const model of [m, c]) {
        const { plansBuilt } = model.runner.stats;
        expect(plansBuilt, JSON.stringify(model.runner.stats)).toBeLessThanOrEqual(24);
      }
    } finally {
      device.createBuffer = createBuffer;
    }
    // Every kind of call ran; good calls succeed, bad ones fail typed.
    expect(new Set(Object.keys(outcomes).map((k) => k.split(':')[0])).size, JSON.stringify(outcomes)).toBe(12);
    for (const [key, n] of Object.entries(outcomes)) {
      const [which, outcome] = key.split(':');
      expect(Number(which) < 6 ? outcome : outcome !== 'ok' ? 'typed' : 'ok', `${key} x${n}`).toBe(Number(which) < 6 ? 'ok' : 'typed');
    }
    const runners = [mlm!.runner, cls!.runner];
    await Promise.all([mlm!.dispose(), cls!.dispose()]);
    for (const runner of runners) {
      expect(runner.cachedPlans).toBe(0);
      expect(runner.stats.plansDestroyed).toBe(runner.stats.plansBuilt);
    }
    expect([...live].map((b) => b.label)).toEqual([]);
  });
});
