// A Hub-style folder URL as a CheckpointSource, with the browser's Cache Storage as a download
// cache (weights in resumable chunks, src/sources/download.ts).
import { CheckpointError } from '../errors';
import { memoryRangeReader, type RangeReader } from '../safetensors';
import { downloadToCache, readStoredFile, storedFileReader } from './download';
import type { CheckpointSource, ProgressFn } from './types';

/** Marks a Cache Storage entry that records a 404 (a file the repository does not have). */
const MISSING_HEADER = 'x-neobert-missing';
/** Files downloaded in resumable chunks (the weights); the small JSON/text files are stored whole. */
const RESUMABLE = /\.safetensors$/;

/** Cache Storage bucket used for downloaded checkpoint files (browser and workers). */
export const DEFAULT_CACHE_NAME = 'neobert-webgpu-v1';

function httpFailure(url: string, response: Response): CheckpointError {
  const hint = response.status === 401 || response.status === 403 ? ' (the repository may be gated or private)' : '';
  return new CheckpointError(`${url}: HTTP ${response.status} ${response.statusText}${hint}`.trimEnd());
}

/** Reads the body chunk by chunk so progress can be reported and a known size is allocated once. */
async function readBody(response: Response, file: string, url: string, onProgress?: ProgressFn, cached = false): Promise<Uint8Array> {
  const lengthHeader = response.headers.get('content-length') ?? '';
  const encoding = response.headers.get('content-encoding') ?? 'identity';
  // With a content-encoding, content-length counts compressed bytes, not the bytes we receive.
  const knownTotal = /^\d+$/.test(lengthHeader) && encoding === 'identity' ? Number(lengthHeader) : null;
  const report = (loaded: number) => onProgress?.(cached ? { file, loaded, total: knownTotal, cached } : { file, loaded, total: knownTotal });
  report(0);
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    report(bytes.byteLength);
    return bytes;
  }

  const reader = response.body.getReader();
  const preallocated = knownTotal !== null ? new Uint8Array(knownTotal) : null;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw new CheckpointError(`${url}: download failed after ${loaded} bytes (${(error as Error).message})`);
    }
    const { done, value } = chunk;
    if (done) break;
    if (preallocated) {
      if (loaded + value.byteLength > preallocated.byteLength) {
        await reader.cancel();
        throw new CheckpointError(`${url}: received more than the ${knownTotal} bytes announced by content-length`);
      }
      preallocated.set(value, loaded);
    } else {
      chunks.push(value);
    }
    loaded += value.byteLength;
    report(loaded);
  }
  if (preallocated) {
    if (loaded !== preallocated.byteLength) {
      throw new CheckpointError(`${url}: download truncated, received ${loaded} of ${knownTotal} bytes`);
    }
    return preallocated;
  }
  const joined = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}

export interface UrlSourceOptions {
  /** fetch to use (tests, custom headers); default globalThis.fetch. */
  fetch?: typeof fetch;
  /**
   * Keep downloaded files in Cache Storage under this bucket name, keyed by URL, so a later
   * visit reads them from disk. Default: DEFAULT_CACHE_NAME where Cache Storage exists (browser
   * pages and workers on https or localhost), off elsewhere (Node). false turns it off.
   */
  cache?: string | false;
}

/** Cache Storage when this runtime has it (secure browser contexts), else null. */
async function openCache(name: string | false | undefined): Promise<Cache | null> {
  if (name === false) return null;
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) return null;
  try {
    return await storage.open(name ?? DEFAULT_CACHE_NAME);
  } catch {
    return null; // e.g. storage disabled: download every time
  }
}

/** A Hub-style folder URL, e.g. https://huggingface.co/chandar-lab/NeoBERT/resolve/main/ */
export function urlSource(baseUrl: string, options: UrlSourceOptions | typeof fetch = {}): CheckpointSource {
  const { fetch: fetchImpl = globalThis.fetch.bind(globalThis), cache: cacheName } = typeof options === 'function' ? { fetch: options } : options;
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  let cachePromise: Promise<Cache | null> | null = null;
  const cache = () => (cachePromise ??= openCache(cacheName));

  const request = async (name: string): Promise<{ url: string; response: Response | null; cached: boolean }> => {
    const url = base + name;
    const c = await cache();
    const hit = await c?.match(url).catch(() => undefined);
    if (hit?.headers.get(MISSING_HEADER)) return { url, response: null, cached: true };
    if (hit) return { url, response: hit, cached: true };
    let response: Response;
    try {
      response = await fetchImpl(url);
    } catch (error) {
      throw new CheckpointError(`${url}: request failed (${(error as Error).message})`);
    }
    if (response.status === 404) {
      // Remembered, so a second visit does not ask again for files the repository lacks.
      await c?.put(url, new Response('', { headers: { [MISSING_HEADER]: '1' } })).catch(() => undefined);
      return { url, response: null, cached: false };
    }
    if (!response.ok) throw httpFailure(url, response);
    return { url, response, cached: false };
  };
  /** Stores a complete, checked download; a full disk or a private window only costs the cache. */
  const store = async (url: string, bytes: Uint8Array, contentType: string | null) => {
    const c = await cache();
    if (!c) return;
    const headers: Record<string, string> = { 'content-length': String(bytes.byteLength) };
    if (contentType) headers['content-type'] = contentType;
    await c.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers })).catch(() => undefined);
  };
  /** Weights go to Cache Storage in chunks as they arrive, so an interrupted download resumes. */
  const stored = async (name: string, onProgress?: ProgressFn) => {
    const c = await cache();
    return c && RESUMABLE.test(name) ? { c, file: await downloadToCache(c, base + name, name, fetchImpl, onProgress) } : null;
  };
  const readBytes: CheckpointSource['readBytes'] = async (name, onProgress) => {
    const chunked = await stored(name, onProgress);
    if (chunked) return chunked.file && readStoredFile(chunked.c, chunked.file);
    const { url, response, cached } = await request(name);
    if (!response) return null;
    let bytes: Uint8Array;
    try {
      bytes = await readBody(response, name, url, onProgress, cached);
    } catch (error) {
      // A cached entry that no longer reads back whole is dropped, so the next try downloads.
      if (cached) await (await cache())?.delete(url).catch(() => undefined);
      throw error;
    }
    if (!cached) await store(url, bytes, response.headers.get('content-type'));
    return bytes;
  };
  return {
    label: base,
    readBytes,
    async readText(name) {
      const bytes = await readBytes(name);
      return bytes && new TextDecoder().decode(bytes);
    },
    // In a worker the stored chunks are read as Blobs, tensor by tensor (FileReaderSync).
    ...(typeof (globalThis as { FileReaderSync?: unknown }).FileReaderSync === 'function'
      ? {
          async openFile(name: string, onProgress?: ProgressFn) {
            const chunked = await stored(name, onProgress);
            let reader: RangeReader | null;
            if (chunked) reader = chunked.file && ((await storedFileReader(chunked.c, chunked.file)) ?? memoryRangeReader(await readStoredFile(chunked.c, chunked.file)));
            else {
              const bytes = await readBytes(name, onProgress);
              reader = bytes && memoryRangeReader(bytes);
            }
            return reader && { ...reader, downloaded: true };
          },
        }
      : {}),
  };
}

/** Deletes the Cache Storage bucket that urlSource fills (every cached checkpoint file). */
export async function clearModelCache(name: string = DEFAULT_CACHE_NAME): Promise<boolean> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  return storage ? storage.delete(name) : false;
}
