// Prometheus text exposition (format 0.0.4) of the server's counters, gauges and histograms,
// named as text-embeddings-inference names them (te_*), plus the process's resident memory.

type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

class Counter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' = 'counter',
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  set(value: number, labels: Labels = {}): void {
    this.values.set(key(labels), value);
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
    if (this.values.size === 0 && this.type === 'gauge') this.values.set('', 0);
    for (const [k, v] of this.values) out += `${this.name}${k ? `{${k}}` : ''} ${v}\n`;
    return out;
  }
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) this.counts[i]++;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    this.buckets.forEach((b, i) => (out += `${this.name}_bucket{le="${b}"} ${this.counts[i]}\n`));
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

const exponential = (start: number, factor: number, n: number) => Array.from({ length: n }, (_, i) => +(start * factor ** i).toPrecision(6));

export class Metrics {
  readonly requestCount = new Counter('te_request_count', 'Requests received, by route');
  readonly requestSuccess = new Counter('te_request_success', 'Requests answered 2xx, by route');
  readonly requestFailure = new Counter('te_request_failure', 'Requests answered 4xx/5xx, by route and error type');
  readonly requestCancelled = new Counter('te_request_cancelled', 'Requests whose client disconnected before the answer');
  readonly requestDuration = new Histogram('te_request_duration', 'Request duration in seconds, body read to answer', exponential(0.001, 2, 16));
  readonly inferenceDuration = new Histogram('te_batch_inference_duration', 'Duration of one packed forward, seconds', exponential(0.001, 2, 16));
  readonly batchTokens = new Histogram('te_batch_next_tokens', 'Tokens per packed forward', exponential(16, 2, 12));
  readonly batchSize = new Histogram('te_batch_next_size', 'Sequences per packed forward', exponential(1, 2, 10));
  readonly batchRequests = new Histogram('te_batch_next_requests', 'Requests sharing one packed forward', exponential(1, 2, 8));
  readonly tokens = new Counter('te_tokens_total', 'Tokens run through the model');
  readonly queueSize = new Counter('te_queue_size', 'Sequences waiting for a forward', 'gauge');
  readonly inFlight = new Counter('te_requests_in_flight', 'Inference requests admitted and not yet answered', 'gauge');
  readonly tokensPerSecond = new Counter('te_tokens_per_second', 'Tokens per second over the last 10 seconds of forwards', 'gauge');
  readonly reloads = new Counter('te_model_reloads', 'Model reloads after a lost GPU device');
  readonly rss = new Counter('process_resident_memory_bytes', 'Resident memory size in bytes', 'gauge');

  private window: { at: number; tokens: number }[] = [];

  recordBatch(tokens: number, ms: number): void {
    const at = performance.now();
    this.window.push({ at, tokens });
    this.tokens.inc({}, tokens);
    this.inferenceDuration.observe(ms / 1000);
  }

  render(state: { queuedSequences: number; inFlight: number }): string {
    const now = performance.now();
    this.window = this.window.filter((w) => now - w.at <= 10_000);
    const span = this.window.length > 0 ? Math.max(1, now - this.window[0].at) : 1;
    this.tokensPerSecond.set(this.window.length > 0 ? (this.window.reduce((a, w) => a + w.tokens, 0) * 1000) / span : 0);
    this.queueSize.set(state.queuedSequences);
    this.inFlight.set(state.inFlight);
    this.rss.set(process.memoryUsage().rss);
    return [
      this.requestCount,
      this.requestSuccess,
      this.requestFailure,
      this.requestCancelled,
      this.requestDuration,
      this.inferenceDuration,
      this.batchTokens,
      this.batchSize,
      this.batchRequests,
      this.tokens,
      this.queueSize,
      this.inFlight,
      this.tokensPerSecond,
      this.reloads,
      this.rss,
    ]
      .map((m) => m.render())
      .join('');
  }
}
