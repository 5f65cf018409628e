// The CPU reference (the oracle for every kernel test) against the PyTorch fixtures: if this
// fails, kernel tests that agree with the reference prove nothing.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import type { NeoBERTConfig, NeoBERTWeights } from '../src/models/neobert';
import { folderSource } from '../src/sources/folder';
import { attentionRef, referenceForward, ropeQkvRef, ropeRotateHalfRef, ropeTable, tokenPositions } from '../src/reference';
import { interleaveQkvHeads, permuteRotateHalf } from '../src/weight-layout';
import { compareArrays, expectClose, randomArray } from './compare';
import { FIXTURES_DIR, fixtureCases, readExpected } from './fixtures';

describe.each(fixtureCases())('CPU reference on fixture %s', (caseName) => {
  it('matches last_hidden_state, pooling and logits to rel L2 < 1e-5', async () => {
    const { config, weights } = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(folderSource(path.join(FIXTURES_DIR, caseName)));
    const expected = await readExpected(caseName);
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const out = referenceForward(config, weights, expected.toInt32('input_ids'), expected.toInt32('attention_mask'), batch, seqLen);
    const pairs: [string, Float32Array | null][] = [
      ['last_hidden_state', out.lastHiddenState],
      ['pooled_cls', out.pooledCls],
      ['pooled_mean', out.pooledMean],
      ['logits', out.logits],
    ];
    for (const [name, got] of pairs) {
      if (!expected.has(name)) continue;
      const stats = compareArrays(got!, expected.toFloat32(name), { atol: 0, rtol: 0, label: name });
      expect(got!.every(Number.isFinite), `${name} has NaN/Inf`).toBe(true);
      expect(stats.relL2, `${caseName} ${name}\n${stats.lines.join('\n')}`).toBeLessThan(1e-5);
    }
  });
});

describe('RoPE references', () => {
  it('ropeTable rounds like transformers\' default rotary embedding (ModernBERT), step by step in f32', () => {
    const f = Math.fround;
    for (const [D, theta] of [
      [64, 10000],
      [64, 160000], // ModernBERT's global layers
      [32, 10000],
    ]) {
      const maxLen = 8192;
      const table = ropeTable(maxLen, D, theta);
      // inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), f32 at each op;
      // freqs = inv_freq[:, None].float() @ position_ids[None, :].float() (one f32 product); emb.cos(), emb.sin().
      const expected = new Float32Array(maxLen * D);
      for (let j = 0; j < D / 2; j++) {
        const invFreq = f(1 / f(Math.pow(f(theta), f(f(2 * j) / f(D)))));
        for (let p = 0; p < maxLen; p++) {
          const angle = f(f(p) * invFreq);
          expected[(p * (D / 2) + j) * 2] = Math.cos(angle);
          expected[(p * (D / 2) + j) * 2 + 1] = Math.sin(angle);
        }
      }
      expectClose(table, expected, { atol: 0, rtol: 0, label: `ropeTable D=${D} theta=${theta}` });
    }
  });

  it('permuteRotateHalf and interleaveQkvHeads move whole rows where the kernels expect them', () => {
    // H = 2 heads of D = 4 rows, K = 1 (a bias): row h*D + r holds 10h + r.
    const b = Float32Array.of(0, 1, 2, 3, 10, 11, 12, 13);
    expect([...permuteRotateHalf(b, 2, 4, 1)]).toEqual([0, 2, 1, 3, 10, 12, 11, 13]);
    const w = Float32Array.from({ length: 8 * 2 }, (_, i) => i); // K = 2: rows are pairs
    expect([...permuteRotateHalf(w, 2, 4, 2)]).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
    const q = Float32Array.of(1, 2, 3, 4);
    const k = Float32Array.of(5, 6, 7, 8);
    const v = Float32Array.of(9, 10, 11, 12);
    expect([...interleaveQkvHeads(q, k, v, 2, 2, 1)]).toEqual([1, 2, 5, 6, 9, 10, 3, 4, 7, 8, 11, 12]);
    expect(() => permuteRotateHalf(b, 2, 3, 1)).toThrow(/even/);
    expect(() => interleaveQkvHeads(q, k, Float32Array.of(1), 2, 2, 1)).toThrow(/v has 1 values/);
  });

  it('attention after adjacent-pair RoPE on permuteRotateHalf channels equals attention after rotate-half RoPE', () => {
    const [H, D] = [3, 32];
    const lengths = [1, 57, 200];
    const sequences = lengths.map((length, i) => ({ start: lengths.slice(0, i).reduce((a, b) => a + b, 0), length }));
    const N = lengths.reduce((a, b) => a + b, 0);
    const positions = tokenPositions(sequences, N);
    const mask = new Uint32Array(N).fill(1);
    const rope = ropeTable(512, D, 160000);
    const q = randomArray(H * N * D, 50, 2); // [H, N, D], before RoPE
    const k = randomArray(H * N * D, 51, 2);
    const v = randomArray(H * N * D, 52);
    // transformers: rotate-half on q and k, then attention.
    const expected = attentionRef(ropeRotateHalfRef(q, rope, positions, H, D), ropeRotateHalfRef(k, rope, positions, H, D), v, mask, sequences, H, D);
    // Ours: q and k channels permuted per head (as permuteRotateHalf does to the weight rows),
    // packed per-head [q | k | v] rows as the fused projection writes them, adjacent-pair RoPE.
    const qkv = new Float32Array(N * H * 3 * D);
    for (let t = 0; t < N; t++) {
      for (let h = 0; h < H; h++) {
        const src = (h * N + t) * D;
        const dst = (t * H + h) * 3 * D;
        qkv.set(permuteRotateHalf(q.subarray(src, src + D), 1, D, 1), dst);
        qkv.set(permuteRotateHalf(k.subarray(src, src + D), 1, D, 1), dst + D);
        qkv.set(v.subarray(src, src + D), dst + 2 * D);
      }
    }
    const r = ropeQkvRef(qkv, rope, positions, H, D);
    const got = attentionRef(r.q, r.k, r.v, mask, sequences, H, D);
    expectClose(got, expected, { atol: 1e-7, rtol: 1e-6, label: 'rotate-half via permutation' });
    // And the permutation matters: without it the adjacent-pair RoPE gives other scores.
    const plain = new Float32Array(qkv.length);
    for (let t = 0; t < N; t++) {
      for (let h = 0; h < H; h++) {
        const src = (h * N + t) * D;
        const dst = (t * H + h) * 3 * D;
        plain.set(q.subarray(src, src + D), dst);
        plain.set(k.subarray(src, src + D), dst + D);
        plain.set(v.subarray(src, src + D), dst + 2 * D);
      }
    }
    const u = ropeQkvRef(plain, rope, positions, H, D);
    expect(compareArrays(attentionRef(u.q, u.k, u.v, mask, sequences, H, D), expected).relL2).toBeGreaterThan(1e-3);
  });
});
