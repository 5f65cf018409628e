// The worker side of EncoderWorker: one NeoBERT model per worker, driven by messages (see
// worker-protocol.ts). Loaded as a module worker it serves its own scope at once:
//   new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })
// and serveEncoder(port) serves any MessagePort-like endpoint (tests in Node use a MessageChannel).
import { EncoderError } from './errors';
import type { GPUContext } from './gpu';
import { NeoBERT, type LoadOptions, type RunTimings } from './encoder';
import type { CallMessage, ReplyMessage, WorkerEndpoint } from './worker-protocol';
import { serializeError, transferablesOf } from './worker-protocol';

// The error classes (the same module as 'neobert-webgpu' in dist/: one copy of each).
export * from './errors';

export interface ServeOptions {
  /** A GPUContext to load models on (not transferable; for hosts that already have one). */
  gpu?: GPUContext;
}

/** serveEncoder's first name, kept as an alias. */
export { serveEncoder as serveNeoBERT };

export function serveEncoder(endpoint: WorkerEndpoint, serveOptions: ServeOptions = {}): void {
  let model: NeoBERT | null = null;
  let loading: Promise<NeoBERT> | null = null;
  const reply = (message: ReplyMessage, transfer: Transferable[] = []) => endpoint.postMessage(message, transfer);

  const loaded = async (): Promise<NeoBERT> => {
    if (!loading) throw new EncoderError('no model loaded in this worker: call load first');
    return model ?? (await loading);
  };

  const handle = async (message: CallMessage): Promise<{ value: unknown; timings?: RunTimings }> => {
    const { id, method, args } = message;
    if (method === 'load') {
      if (loading) throw new EncoderError('this worker already holds a model: create a new EncoderWorker for another');
      const [source, options = {}] = args as [string | File[], Omit<LoadOptions, 'onProgress' | 'gpu' | 'device'>];
      loading = NeoBERT.load(source, {
        ...options,
        gpu: serveOptions.gpu,
        onProgress: (progress) => reply({ kind: 'progress', id, progress }),
      });
      loading.catch(() => (loading = null));
      model = await loading;
      return { value: model.info() };
    }
    const m = await loaded();
    if (method === 'dispose') return { value: await m.dispose() };
    if (method === 'forward') return { value: await m.forward(args[0] as Parameters<NeoBERT['forward']>[0]) };
    let timings: RunTimings | undefined;
    const options = {
      ...(args[1] as object),
      onTimings: (t: RunTimings) => (timings = t),
      onBatch: message.wantsBatch ? (done: number, total: number) => reply({ kind: 'batch', id, done, total }) : undefined,
    };
    let value: unknown;
    if (method === 'embedMatrix') value = await m.embedMatrix(args[0] as Parameters<NeoBERT['embedMatrix']>[0], options);
    else if (method === 'fillMask') value = await m.fillMask(args[0] as Parameters<NeoBERT['fillMask']>[0], options);
    else if (method === 'classify') value = await m.classify(args[0] as Parameters<NeoBERT['classify']>[0], options);
    else if (method === 'guard') value = await m.guard(args[0] as Parameters<NeoBERT['guard']>[0], options);
    else if (method === 'rank') value = await m.rank(args[0] as string, args[1] as string[], { ...(args[2] as object), onTimings: options.onTimings, onBatch: options.onBatch });
    else throw new EncoderError(`unknown worker method ${JSON.stringify(method)}`);
    return { value, timings };
  };

  endpoint.addEventListener('message', (event: MessageEvent) => {
    const message = event.data as CallMessage;
    if (message?.kind !== 'call') return;
    handle(message).then(
      ({ value, timings }) => reply({ kind: 'result', id: message.id, value, timings }, transferablesOf(value)),
      (error) => reply({ kind: 'error', id: message.id, error: serializeError(error) }),
    );
  });
  endpoint.start?.();
}

// Started as a module worker: serve this scope.
const scope = globalThis as { WorkerGlobalScope?: abstract new () => unknown };
if (typeof scope.WorkerGlobalScope === 'function' && globalThis instanceof scope.WorkerGlobalScope) {
  serveEncoder(globalThis as unknown as WorkerEndpoint);
}
