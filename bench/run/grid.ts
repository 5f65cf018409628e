// The sweep (browser-safe): for each (seq, batch) point, every engine gets the same inputs, a
// first call (timed: plan building, shader variants, lazy compilation) and warm-up calls, then the
// timed repeats run round-robin -- ours, peer, peer, ours, ... -- so all engines see the same
// background load (other people use this machine). Medians and spreads per engine.
import { benchInputs, relL2, spread, type Spread } from './stats';

export interface BenchEngine {
  engine: string;
  backend: string;
  /** The device it computes on, in words (adapter description, or "CPU ..."). */
  device: string;
  setInputs(seq: number, batch: number, ids: Int32Array, mask: Int32Array): Promise<void>;
  /** One forward including the readback of last_hidden_state; wall ms. */
  run(timeoutMs: number): Promise<number>;
  output?(): Promise<Float32Array>;
  /** Largest batch x seq this engine is asked to run (memory or time limits). */
  maxTokens?: number;
}

export interface PointResult {
  engine: string;
  backend: string;
  device: string;
  seq: number;
  batch: number;
  tokensPerSecond: number;
  msPerBatch: number;
  spread: Spread;
  firstCallMs: number;
  repeats: number;
  /** Rel L2 of last_hidden_state against ours at this point (checked at the first point). */
  relL2VsOurs?: number;
  [extra: string]: unknown;
}

export interface GridOptions {
  points: { seq: number; batch: number }[];
  vocabSize: number;
  warmup: number;
  repeats: number;
  minRepeats: number;
  /** Time budget for the timed repeats of one point (all engines together). */
  pointBudgetMs: number;
  callTimeoutMs: number;
  /** Compare every engine's output with the first engine's at the first point. */
  checkOutputs: boolean;
  log: (line: string) => void;
  /** Runs after each point (our memory and per-kernel profile). */
  afterPoint?: (seq: number, batch: number, ids: Int32Array, mask: Int32Array) => Promise<Record<string, unknown> | void>;
}

export interface GridOutcome {
  results: PointResult[];
  /** engine/backend -> why it stopped or was skipped, per point. */
  errors: { engine: string; backend: string; seq?: number; batch?: number; message: string }[];
}

const key = (e: BenchEngine) => `${e.engine}/${e.backend}`;

export async function runGrid(engines: BenchEngine[], opts: GridOptions): Promise<GridOutcome> {
  const results: PointResult[] = [];
  const errors: GridOutcome['errors'] = [];
  const dead = new Set<string>();
  let checked = !opts.checkOutputs;
  const fail = (e: BenchEngine, seq: number, batch: number, err: unknown, stop: boolean) => {
    const message = `${(err as Error).message ?? err}`;
    errors.push({ engine: e.engine, backend: e.backend, seq, batch, message });
    opts.log(`  ${key(e)} ${seq}x${batch}: ${message}${stop ? ' (dropped from the rest of the sweep)' : ''}`);
    if (stop) dead.add(key(e));
  };

  for (const { seq, batch } of opts.points) {
    const { ids, mask } = benchInputs(seq, batch, opts.vocabSize);
    const active: { e: BenchEngine; first: number; last: number; times: number[] }[] = [];
    for (const e of engines) {
      if (dead.has(key(e))) continue;
      if (e.maxTokens !== undefined && seq * batch > e.maxTokens) {
        errors.push({ engine: e.engine, backend: e.backend, seq, batch, message: `skipped: ${seq * batch} tokens > this engine's limit of ${e.maxTokens} here` });
        continue;
      }
      try {
        await e.setInputs(seq, batch, ids, mask);
        const first = await e.run(opts.callTimeoutMs);
        let last = first;
        for (let i = 1; i < opts.warmup; i++) last = await e.run(opts.callTimeoutMs);
        active.push({ e, first, last, times: [] });
      } catch (err) {
        fail(e, seq, batch, err, true);
      }
    }
    if (active.length === 0) continue;

    if (!checked) {
      checked = true;
      const reference = await active[0].e.output?.();
      for (const a of active.slice(1)) {
        if (!reference || !a.e.output) continue;
        try {
          (a as { rel?: number }).rel = relL2(await a.e.output(), reference);
        } catch (err) {
          fail(a.e, seq, batch, err, false);
        }
      }
    }

    const roundMs = active.reduce((s, a) => s + a.last, 0);
    const repeats = Math.max(opts.minRepeats, Math.min(opts.repeats, Math.floor(opts.pointBudgetMs / Math.max(roundMs, 1e-3))));
    for (let r = 0; r < repeats; r++) {
      // Alternate the order every round so no engine always runs right after another.
      const order = r % 2 === 0 ? active : [...active].reverse();
      for (const a of order) {
        if (dead.has(key(a.e))) continue;
        try {
          a.times.push(await a.e.run(opts.callTimeoutMs));
        } catch (err) {
          fail(a.e, seq, batch, err, true);
        }
      }
    }

    const extra = (await opts.afterPoint?.(seq, batch, ids, mask)) ?? {};
    for (const a of active) {
      if (a.times.length === 0) continue;
      const s = spread(a.times);
      const res: PointResult = {
        engine: a.e.engine,
        backend: a.e.backend,
        device: a.e.device,
        seq,
        batch,
        tokensPerSecond: (seq * batch) / (s.median / 1000),
        msPerBatch: s.median,
        spread: s,
        firstCallMs: a.first,
        repeats: a.times.length,
      };
      const rel = (a as { rel?: number }).rel;
      if (rel !== undefined) res.relL2VsOurs = rel;
      if (a.e === engines[0]) Object.assign(res, extra); // ours: memory, profile
      results.push(res);
      opts.log(
        `  ${seq}x${batch} ${key(a.e).padEnd(24)} ${s.median.toFixed(1).padStart(9)} ms  (${s.min.toFixed(1)}-${s.max.toFixed(1)}, n=${s.n})` +
          `  ${res.tokensPerSecond.toFixed(0).padStart(8)} tok/s  first ${a.first.toFixed(0)} ms${rel !== undefined ? `  relL2 vs ours ${rel.toExponential(1)}` : ''}`,
      );
    }
  }
  return { results, errors };
}
