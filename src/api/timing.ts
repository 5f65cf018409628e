// One call's timings, accumulated stage by stage on the host.
import type { RunTimings } from './types';

export const now = () => performance.now();

/** Accumulates one call's timings. */
export class CallTimer {
  readonly t: RunTimings;
  private readonly start = now();
  constructor(queuedMs: number) {
    this.t = { queuedMs, tokenizeMs: 0, gpuMs: 0, readbackMs: 0, totalMs: 0, sequences: 0, tokens: 0, computedTokens: 0, batches: 0, tokensPerSecond: 0 };
  }
  time<T>(stage: 'tokenizeMs' | 'gpuMs' | 'readbackMs', body: () => T): T {
    const t0 = now();
    try {
      return body();
    } finally {
      this.t[stage] += now() - t0;
    }
  }
  async timeAsync<T>(stage: 'gpuMs', body: () => Promise<T>): Promise<T> {
    const t0 = now();
    try {
      return await body();
    } finally {
      this.t[stage] += now() - t0;
    }
  }
  finish(): RunTimings {
    this.t.totalMs = now() - this.start;
    this.t.tokensPerSecond = this.t.totalMs > 0 ? (this.t.tokens * 1000) / this.t.totalMs : 0;
    return { ...this.t };
  }
}

