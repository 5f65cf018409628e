// Small statistics and formatting helpers shared by the Node harness and the browser bench page.

export interface Spread {
  /** Median of the timed repeats (after warm-up). */
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles (linear interpolation). */
  p25: number;
  p75: number;
  /** (p75 - p25) / median: the relative interquartile spread. */
  relIqr: number;
  n: number;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function spread(times: number[]): Spread {
  const s = [...times].sort((a, b) => a - b);
  const median = quantile(s, 0.5);
  const p25 = quantile(s, 0.25);
  const p75 = quantile(s, 0.75);
  return { median, min: s[0], max: s[s.length - 1], p25, p75, relIqr: (p75 - p25) / median, n: s.length };
}

/** Relative L2 distance ||a - b|| / ||b||. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return NaN;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** Deterministic token ids for a (seq, batch) point, the same for every engine. */
export function benchInputs(seq: number, batch: number, vocabSize: number): { ids: Int32Array; mask: Int32Array } {
  const lo = Math.min(1000, Math.max(1, vocabSize >> 2));
  const span = Math.max(1, Math.min(vocabSize, 21000) - lo);
  const ids = new Int32Array(seq * batch);
  let state = (seq * 1000003 + batch * 7919) >>> 0;
  for (let i = 0; i < ids.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    ids[i] = lo + (state % span);
  }
  for (let b = 0; b < batch; b++) ids[b * seq] = Math.min(101, vocabSize - 1); // [CLS]
  return { ids, mask: new Int32Array(seq * batch).fill(1) };
}

export const fmt = {
  ms: (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
  rate: (v: number | undefined) =>
    v === undefined || !Number.isFinite(v) ? '-' : v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0),
  bytes: (v: number | undefined) =>
    v === undefined ? '-' : v >= 2 ** 30 ? `${(v / 2 ** 30).toFixed(2)} GiB` : v >= 2 ** 20 ? `${(v / 2 ** 20).toFixed(1)} MiB` : `${(v / 2 ** 10).toFixed(1)} KiB`,
  pct: (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : `${(v * 100).toFixed(0)}%`),
};

/** A fixed-width text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
