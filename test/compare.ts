// Numeric comparison for tests: |got - ref| <= atol + rtol * |ref| element-wise, NaN/Inf always
// a failure, and the first mismatches printed with their indices.
import { expect } from 'vitest';

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  label?: string;
}

export function compareArrays(got: ArrayLike<number>, ref: ArrayLike<number>, { atol = 1e-5, rtol = 1e-4, label = 'tensor' }: CloseOptions = {}) {
  const lines: string[] = [];
  let mismatches = 0;
  let maxAbs = 0;
  let sumSqDiff = 0;
  let sumSqRef = 0;
  let maxRef = 0;
  if (got.length !== ref.length) lines.push(`${label}: length ${got.length}, expected ${ref.length}`);
  const n = Math.min(got.length, ref.length);
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const r = ref[i];
    const diff = Math.abs(g - r);
    const bad = !Number.isFinite(g) || !(diff <= atol + rtol * Math.abs(r));
    if (bad) {
      mismatches++;
      if (lines.length < 8) lines.push(`${label}[${i}]: got ${g}, expected ${r} (|diff| ${diff.toExponential(2)})`);
    }
    if (Number.isFinite(diff)) maxAbs = Math.max(maxAbs, diff);
    sumSqDiff += (g - r) ** 2;
    sumSqRef += r * r;
    maxRef = Math.max(maxRef, Math.abs(r));
  }
  const relL2 = Math.sqrt(sumSqDiff) / Math.max(Math.sqrt(sumSqRef), 1e-30);
  return { mismatches, lines, maxAbs, relL2, maxRef };
}

export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, options: CloseOptions = {}): void {
  const { mismatches, lines } = compareArrays(got, ref, options);
  if (mismatches > 0 || lines.length > 0) {
    expect.fail(`${options.label ?? 'tensor'}: ${mismatches} of ${ref.length} values out of tolerance\n${lines.join('\n')}`);
  }
}

/** Deterministic pseudo-random floats in [-scale, scale) (mulberry32), so failures reproduce. */
export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
