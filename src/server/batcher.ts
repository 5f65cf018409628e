// Dynamic batching: the sequences of every request waiting when the GPU becomes free are merged
// into packed forwards of at most --max-batch-tokens tokens and --max-batch-requests sequences
// (text-embeddings-inference's limits: each input of a request is one of its "requests"), first
// come first served. Each request gets its own rows back, in its order. A request whose client
// went away is cancelled: its sequences still waiting leave the queue, rows of it already in a
// forward are dropped, and nobody else's work changes. --max-concurrent-requests bounds the
// requests admitted at once; one more is refused (429) instead of queueing without bound.
import { overloaded } from './http-error';

/** One packed forward: `output` of each sequence, row-major (`width` values per sequence). */
export type PackedForward = (sequences: number[][], typeIds: number[][] | null, output: string) => Promise<Float32Array>;

export interface BatcherLimits {
  maxBatchTokens: number;
  /** Sequences per forward; null: no limit but the tokens. */
  maxBatchRequests: number | null;
  maxConcurrentRequests: number;
}

export interface BatchStats {
  tokens: number;
  sequences: number;
  requests: number;
  ms: number;
}

/** Thrown to a request that was cancelled (its client disconnected); never sent to anyone. */
export class CancelledError extends Error {}

interface Job {
  rows: number[][];
  typeIds: number[][] | null;
  output: string;
  width: number;
  result: Float32Array;
  remaining: number;
  done: boolean;
  resolve: (rows: Float32Array) => void;
  reject: (error: unknown) => void;
}

interface Item {
  job: Job;
  row: number;
}

export interface Submission {
  /** Every row's output, row-major, in the order of the request's rows. */
  result: Promise<Float32Array>;
  /** Drops what is still queued of this request and rejects `result` with CancelledError. */
  cancel(): void;
}

export class Batcher {
  private queue: Item[] = [];
  private running = false;
  private scheduled = false;
  private admitted = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly forward: PackedForward,
    readonly limits: BatcherLimits,
    private readonly observe: (stats: BatchStats) => void = () => {},
  ) {}

  /** Sequences waiting for a forward. */
  get queuedSequences(): number {
    return this.queue.length;
  }

  /** Requests admitted and not yet answered. */
  get inFlight(): number {
    return this.admitted;
  }

  /**
   * Queues a request's sequences (`output` names what to read back, `width` values per row).
   * Throws a 429 HttpError when --max-concurrent-requests are already in flight.
   */
  submit(rows: number[][], typeIds: number[][] | null, output: string, width: number): Submission {
    if (this.admitted >= this.limits.maxConcurrentRequests) throw overloaded();
    this.admitted++;
    let job!: Job;
    const result = new Promise<Float32Array>((resolve, reject) => {
      job = { rows, typeIds, output, width, result: new Float32Array(rows.length * width), remaining: rows.length, done: false, resolve, reject };
    });
    for (let row = 0; row < rows.length; row++) this.queue.push({ job, row });
    this.schedule();
    return { result, cancel: () => this.finish(job, new CancelledError('cancelled')) };
  }

  /** Resolves once nothing is queued or running (SIGTERM: finish what was accepted). */
  idle(): Promise<void> {
    if (this.admitted === 0 && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private finish(job: Job, error: unknown | null): void {
    if (job.done) return;
    job.done = true;
    this.admitted--;
    if (error === null) job.resolve(job.result);
    else {
      job.reject(error);
      this.queue = this.queue.filter((item) => item.job !== job);
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.admitted === 0 && !this.running) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Forms the next batch one macrotask later, so requests that arrive together share it. */
  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  /** The head's output kind, then every queued sequence of that kind that fits, in arrival order. */
  private take(): Item[] {
    const { maxBatchTokens, maxBatchRequests } = this.limits;
    const batch: Item[] = [];
    const rest: Item[] = [];
    let tokens = 0;
    const output = this.queue[0].job.output;
    let full = false;
    for (const item of this.queue) {
      const length = item.job.rows[item.row].length;
      const fits = !full && item.job.output === output && (batch.length === 0 || tokens + length <= maxBatchTokens) && (maxBatchRequests === null || batch.length < maxBatchRequests);
      if (fits) {
        batch.push(item);
        tokens += length;
      } else {
        rest.push(item);
        // Keep arrival order within a kind: once one sequence of it waits, later ones wait too.
        if (item.job.output === output) full = true;
      }
    }
    this.queue = rest;
    return batch;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        const sequences = batch.map((item) => item.job.rows[item.row]);
        const anyTypes = batch.some((item) => item.job.typeIds !== null);
        const typeIds = anyTypes ? batch.map((item) => item.job.typeIds?.[item.row] ?? new Array(item.job.rows[item.row].length).fill(0)) : null;
        const started = performance.now();
        let out: Float32Array;
        try {
          out = await this.forward(sequences, typeIds, batch[0].job.output);
        } catch (error) {
          for (const item of batch) this.finish(item.job, error);
          continue;
        }
        const requests = new Set<Job>();
        batch.forEach((item, k) => {
          const { job } = item;
          requests.add(job);
          if (job.done) return; // cancelled while its rows were in the forward
          job.result.set(out.subarray(k * job.width, (k + 1) * job.width), item.row * job.width);
          if (--job.remaining === 0) this.finish(job, null);
        });
        this.observe({ tokens: sequences.reduce((a, s) => a + s.length, 0), sequences: sequences.length, requests: requests.size, ms: performance.now() - started });
      }
    } finally {
      this.running = false;
      this.checkIdle();
    }
  }
}
