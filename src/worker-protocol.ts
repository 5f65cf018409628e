// Messages between EncoderWorker (page) and serveEncoder (worker). Plain structured-clone data;
// Float32Array results travel as transferred buffers. Errors cross as {name, message, fields}
// and are rebuilt as the same classes, so `instanceof` works on both sides.
import {
  CheckpointError,
  DeviceLostError,
  GPUOutOfMemoryError,
  GPUUnavailableError,
  GPUValidationError,
  InputError,
  KernelShapeError,
  DeviceLimitError,
  ModelDisposedError,
  EncoderError,
  TokenLimitError,
} from './errors';
import type { RunTimings } from './api/types';

/** What both a Worker / worker scope and a MessagePort offer. */
export interface WorkerEndpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener?(type: 'message', listener: (event: MessageEvent) => void): void;
  /** MessagePorts deliver nothing until started. */
  start?(): void;
}

export type WorkerMethod = 'load' | 'embedMatrix' | 'fillMask' | 'classify' | 'guard' | 'rank' | 'forward' | 'dispose';

export interface CallMessage {
  kind: 'call';
  id: number;
  method: WorkerMethod;
  args: unknown[];
  /** Whether the page listens to per-batch progress. */
  wantsBatch?: boolean;
}

export type ReplyMessage =
  | { kind: 'result'; id: number; value: unknown; timings?: RunTimings }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'progress'; id: number; progress: { file: string; loaded: number; total: number | null; cached?: boolean } }
  | { kind: 'batch'; id: number; done: number; total: number };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  reason?: string;
  index?: number;
  tokens?: number;
  limit?: number;
  what?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const out: SerializedError = { name: error.name, message: error.message, stack: error.stack };
  if (error instanceof DeviceLostError) out.reason = error.reason;
  if (error instanceof TokenLimitError) Object.assign(out, { index: error.index, tokens: error.tokens, limit: error.limit });
  if (error instanceof GPUOutOfMemoryError || error instanceof GPUValidationError) out.what = error.what;
  return out;
}

const CLASSES: Record<string, new (message: string) => Error> = {
  EncoderError,
  NeoBERTError: EncoderError, // the base class's first name
  CheckpointError,
  InputError,
  GPUUnavailableError,
  ModelDisposedError,
  KernelShapeError,
  DeviceLimitError,
  TypeError,
  RangeError,
};

export function deserializeError(e: SerializedError): Error {
  let error: Error;
  if (e.name === 'TokenLimitError' && e.index !== undefined && e.tokens !== undefined && e.limit !== undefined) {
    error = new TokenLimitError(e.index, e.tokens, e.limit);
  } else if (e.name === 'DeviceLostError') {
    error = new DeviceLostError(e.message, e.reason ?? 'unknown');
  } else if (e.name === 'GPUOutOfMemoryError' || e.name === 'GPUValidationError') {
    error = new (e.name === 'GPUOutOfMemoryError' ? GPUOutOfMemoryError : GPUValidationError)(e.message, e.what ?? '');
  } else {
    const Class = CLASSES[e.name];
    error = Class ? new Class(e.message) : Object.assign(new Error(e.message), { name: e.name });
  }
  error.message = e.message;
  if (e.stack) error.stack = `${e.stack}\n    (in the NeoBERT worker)`;
  return error;
}

/** The buffers of the Float32Arrays in a result, to transfer instead of copying. */
export function transferablesOf(value: unknown): Transferable[] {
  const found = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number) => {
    if (depth > 3 || v === null || typeof v !== 'object') return;
    if (v instanceof Float32Array) {
      if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) found.add(v.buffer);
      return;
    }
    if (ArrayBuffer.isView(v)) return;
    for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x, depth + 1);
  };
  visit(value, 0);
  return [...found];
}
