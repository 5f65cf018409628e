// `neobert serve`: the HTTP server (node:http, Node only: the browser bundle never imports
// src/server/). Reads and limits bodies, checks the API key, answers CORS, routes, writes TEI's
// error bodies, counts everything for /metrics, and shuts down gracefully: stop accepting, answer
// every request already accepted, free the model, resolve.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Encoder } from '../encoder';
import { Batcher, CancelledError } from './batcher';
import { HttpError, tooLarge, unhealthy, validation } from './http-error';
import { Metrics } from './metrics';
import { ModelHost } from './model-host';
import { routes, type Answer, type RouteContext, type ServeLimits } from './routes';

export interface ServeOptions extends ServeLimits {
  host: string;
  port: number;
  /** Reported as model_id (/info) and model (/v1/embeddings). */
  modelId: string;
  dtype: 'f32' | 'f16';
  /** `Authorization: Bearer KEY` required on every route but /health, /metrics and GET /. */
  apiKey: string | null;
  /** Origins allowed by CORS ('*' for any); null: no CORS headers. */
  corsAllowOrigin: string[] | null;
  /** Test hooks (POST /__test/lose-device, /__test/release-reload); never in production. */
  testHooks?: boolean;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  host: ModelHost;
  metrics: Metrics;
  /** Stops accepting, finishes what was accepted, frees the model. */
  close(): Promise<void>;
  /** Resolves when close() has finished. */
  closed: Promise<void>;
}

const PUBLIC = new Set(['GET /health', 'GET /', 'GET /ping', 'GET /metrics']);

export async function startServer(load: () => Promise<Encoder>, options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? (() => {});
  const host = await ModelHost.start(load);
  const metrics = new Metrics();
  host.onLog = log;
  host.onReload = () => metrics.reloads.inc();
  if (options.maxBatchTokens < host.maxInputLength) {
    await host.dispose();
    throw new RangeError(`--max-batch-tokens ${options.maxBatchTokens} must be at least the model's max input length ${host.maxInputLength}`);
  }
  const batcher = new Batcher(host.forward, options, (b) => {
    metrics.recordBatch(b.tokens, b.ms);
    metrics.batchTokens.observe(b.tokens);
    metrics.batchSize.observe(b.sequences);
    metrics.batchRequests.observe(b.requests);
  });
  let releaseReload: (() => void) | null = null;
  let closing = false;
  const active = new Set<Promise<void>>();

  const aliases: Record<string, string> = { '/embeddings': '/v1/embeddings' };
  const rootRoute = () => ({ embedding: '/embed', reranker: '/rerank', classifier: '/predict' })[host.kind];

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    let route = aliases[path] ?? path;
    const openAI = route === '/v1/embeddings';
    let label = route;
    try {
      if (cors(req, res)) return;
      if (closing) {
        res.setHeader('Connection', 'close');
        throw unhealthy('the server is shutting down');
      }
      if (options.apiKey !== null && !PUBLIC.has(`${method} ${route}`) && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        throw new HttpError(401, 'unauthorized', 'missing or wrong API key: send "Authorization: Bearer <key>"');
      }
      if (route === '/health' || route === '/ping' || (route === '/' && method === 'GET')) {
        if (!host.healthy) throw unhealthy();
        return send(res, 200, { text: '' });
      }
      if (route === '/metrics' && method === 'GET') {
        return send(res, 200, { text: metrics.render({ queuedSequences: batcher.queuedSequences, inFlight: batcher.inFlight }), contentType: 'text/plain; version=0.0.4' });
      }
      if (options.testHooks && route.startsWith('/__test/')) return testHook(route, res);
      if (route === '/' || route === '/invocations') route = label = rootRoute();
      const handler = routes[route]?.[method];
      if (!handler) {
        if (routes[route]) throw new HttpError(405, 'not_found', `${route} takes ${Object.keys(routes[route]).join(', ')}, not ${method}`);
        label = 'unknown';
        throw new HttpError(404, 'not_found', `no route ${method} ${path}`);
      }
      metrics.requestCount.inc({ route: label });
      const body = method === 'POST' ? await readJson(req) : undefined;
      const aborts: (() => void)[] = [];
      const onClose = () => {
        if (!res.writableFinished) {
          metrics.requestCancelled.inc();
          for (const cancel of aborts) cancel();
        }
      };
      res.on('close', onClose);
      const ctx: RouteContext = { host, batcher, metrics, limits: options, modelId: options.modelId, dtype: options.dtype, onAbort: (cancel) => aborts.push(cancel) };
      const answer = await handler(ctx, body);
      if (res.destroyed) return;
      metrics.requestSuccess.inc({ route: label });
      metrics.requestDuration.observe((performance.now() - started) / 1000);
      send(res, answer.status ?? 200, answer);
    } catch (error) {
      if (error instanceof CancelledError || res.destroyed) return;
      const e = error instanceof HttpError ? error : new HttpError(500, 'internal', `internal error: ${(error as Error)?.message ?? String(error)}`);
      if (e.status >= 500 && e.status !== 503) log(`500 on ${method} ${path}: ${(error as Error)?.stack ?? String(error)}`);
      metrics.requestFailure.inc({ route: label, err: e.errorType });
      const json = openAI ? { message: e.message, code: e.status, type: e.errorType } : { error: e.message, error_type: e.errorType };
      send(res, e.status, { json });
    }
  }

  /** CORS: the allowed origin's headers; a preflight is answered here (true). */
  function cors(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const origin = req.headers.origin;
    const allowed = options.corsAllowOrigin;
    if (!allowed || !origin) return false;
    if (allowed.includes('*')) res.setHeader('Access-Control-Allow-Origin', '*');
    else if (allowed.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
    } else return false;
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      res.setHeader('Access-Control-Allow-Headers', 'content-type, authorization');
      res.writeHead(204).end();
      req.resume();
      return true;
    }
    return false;
  }

  /** The body as JSON: 413 past --payload-limit (the rest is read and dropped), 400 when it is not JSON. */
  function readJson(req: http.IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const limit = options.payloadLimit;
      const declared = Number(req.headers['content-length'] ?? 0);
      const chunks: Buffer[] = [];
      let size = 0;
      let over = declared > limit;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) over = true;
        if (!over) chunks.push(chunk);
        else if (size > 8 * limit) req.destroy(); // drained enough to answer; no more
      });
      req.on('error', reject);
      // A client gone before its body ended: nothing to answer (and nothing left pending).
      req.on('close', () => {
        if (!req.complete) reject(new CancelledError('the client went away'));
      });
      req.on('end', () => {
        if (over) return reject(tooLarge(`the request body is over the payload limit of ${limit} bytes (--payload-limit)`));
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim() === '') return reject(validation('the request body is empty; send a JSON object'));
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new HttpError(400, 'validation', `the request body is not valid JSON: ${(e as Error).message}`));
        }
      });
    });
  }

  function send(res: http.ServerResponse, status: number, answer: Answer): void {
    if (res.headersSent || res.destroyed) return;
    const text = answer.text ?? JSON.stringify(answer.json);
    if (closing) res.setHeader('Connection', 'close');
    res.writeHead(status, { 'Content-Type': answer.contentType ?? (answer.text !== undefined ? 'text/plain' : 'application/json'), 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function testHook(route: string, res: http.ServerResponse): Promise<void> {
    if (route === '/__test/lose-device') {
      // Loses the device as a driver reset would; the reload then waits for /__test/release-reload.
      host.holdReload = new Promise((resolve) => (releaseReload = resolve));
      const gpu = host.model.gpu;
      gpu.device.destroy();
      await gpu.lost;
      await new Promise((resolve) => setImmediate(resolve));
      return send(res, 200, { json: { lost: true, healthy: host.healthy } });
    }
    if (route === '/__test/release-reload') {
      releaseReload?.();
      host.holdReload = null;
      return send(res, 200, { json: { released: true } });
    }
    throw new HttpError(404, 'not_found', `no test hook ${route}`);
  }

  const server = http.createServer((req, res) => {
    const done = handle(req, res).catch((e) => log(`unexpected: ${(e as Error)?.stack ?? e}`));
    active.add(done);
    void done.finally(() => active.delete(done));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closedResolve!: () => void;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  let closingPromise: Promise<void> | null = null;
  const close = () =>
    (closingPromise ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      while (active.size > 0) await Promise.all([...active]);
      await batcher.idle();
      server.closeIdleConnections();
      await stopped;
      await host.dispose();
      closedResolve();
    })());
  return { url: `http://${hostname}:${address.port}`, port: address.port, host, metrics, close, closed };
}
