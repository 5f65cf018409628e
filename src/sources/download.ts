// Resumable downloads of large checkpoint files into Cache Storage (browser pages and workers):
// the body is stored in fixed-size chunks as it arrives, with a manifest of how many bytes are
// safe, so a download that stops at 60% resumes from there on the next load with an HTTP Range
// request. The server's ETag (or Last-Modified) and size are kept: a file that changed on the
// server (different ETag or size, or a server that answers the Range with the whole file)
// invalidates the stored chunks and starts over.
import { CheckpointError } from '../errors';
import type { ProgressFn } from './types';
import type { RangeReader } from '../safetensors';

/** Bytes per stored chunk: big enough to keep the entry count low, small enough to lose little. */
export const DOWNLOAD_CHUNK_BYTES = 16 * 2 ** 20;

interface Manifest {
  size: number;
  /** ETag or Last-Modified of the response the chunks came from ('' when the server sent neither). */
  validator: string;
  chunkBytes: number;
  /** Bytes stored in complete chunks (the whole file once complete). */
  stored: number;
  complete: boolean;
}

// Query parameters, not fragments: Cache Storage matches requests without their fragment.
const withParam = (url: string, param: string) => `${url}${url.includes('?') ? '&' : '?'}${param}`;
const manifestKey = (url: string) => withParam(url, 'neobert-manifest');
const chunkKey = (url: string, index: number) => withParam(url, `neobert-chunk=${index}`);

/** The chunks of one completely downloaded file. */
export interface StoredFile {
  url: string;
  size: number;
  chunkBytes: number;
  chunkCount: number;
}

async function readManifest(cache: Cache, url: string): Promise<Manifest | null> {
  const hit = await cache.match(manifestKey(url)).catch(() => undefined);
  if (!hit) return null;
  try {
    const m = (await hit.json()) as Manifest;
    if (typeof m.size === 'number' && typeof m.stored === 'number' && typeof m.chunkBytes === 'number' && typeof m.validator === 'string') return m;
  } catch {
    // unreadable: start over
  }
  return null;
}

async function writeManifest(cache: Cache, url: string, manifest: Manifest): Promise<void> {
  await cache.put(manifestKey(url), new Response(JSON.stringify(manifest), { headers: { 'content-type': 'application/json' } }));
}

/** Deletes a file's manifest and chunks. */
export async function forgetStoredFile(cache: Cache, url: string, manifest?: Manifest | null): Promise<void> {
  const m = manifest ?? (await readManifest(cache, url));
  await cache.delete(manifestKey(url)).catch(() => false);
  if (!m) return;
  const count = Math.ceil(m.size / m.chunkBytes);
  await Promise.all(Array.from({ length: count }, (_, i) => cache.delete(chunkKey(url, i)).catch(() => false)));
}

function validatorOf(response: Response): string {
  return response.headers.get('etag') ?? response.headers.get('last-modified') ?? '';
}

/** The file's total size from a 206's Content-Range ("bytes 100-199/1000"), or null. */
function rangeTotal(response: Response): { start: number; total: number } | null {
  const match = /^bytes (\d+)-\d+\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  return match ? { start: Number(match[1]), total: Number(match[2]) } : null;
}

/**
 * Downloads `url` into `cache` in chunks, resuming a partial download; returns the stored file,
 * or null when the server says 404. Progress: loaded/total of the whole file, `resumedFrom` the
 * byte a resumed download started at.
 */
export async function downloadToCache(
  cache: Cache,
  url: string,
  file: string,
  fetchImpl: typeof fetch,
  onProgress?: ProgressFn,
  chunkBytes = DOWNLOAD_CHUNK_BYTES,
): Promise<StoredFile | null> {
  let manifest = await readManifest(cache, url);
  if (manifest?.complete) {
    onProgress?.({ file, loaded: manifest.size, total: manifest.size, cached: true });
    return { url, size: manifest.size, chunkBytes: manifest.chunkBytes, chunkCount: Math.ceil(manifest.size / manifest.chunkBytes) };
  }
  let start = 0;
  let response: Response;
  const get = async (headers?: Record<string, string>) => {
    try {
      return await fetchImpl(url, headers ? { headers } : undefined);
    } catch (error) {
      throw new CheckpointError(`${url}: request failed (${(error as Error).message})`);
    }
  };
  if (manifest && manifest.stored > 0) {
    const headers: Record<string, string> = { Range: `bytes=${manifest.stored}-` };
    // If-Range takes a strong ETag or a Last-Modified date; a changed file then comes back whole (200).
    if (manifest.validator && !manifest.validator.startsWith('W/')) headers['If-Range'] = manifest.validator;
    response = await get(headers);
    const range = response.status === 206 ? rangeTotal(response) : null;
    const sameFile = range !== null && range.start === manifest.stored && range.total === manifest.size && (validatorOf(response) === '' || validatorOf(response) === manifest.validator);
    if (sameFile) {
      start = manifest.stored;
    } else {
      // Changed on the server (or no Range support): what is stored is stale.
      await response.body?.cancel().catch(() => undefined);
      await forgetStoredFile(cache, url, manifest);
      manifest = null;
      response = await get();
    }
  } else {
    if (manifest) await forgetStoredFile(cache, url, manifest);
    manifest = null;
    response = await get();
  }
  if (response.status === 404) return null;
  if (!response.ok) {
    const hint = response.status === 401 || response.status === 403 ? ' (the repository may be gated or private)' : '';
    throw new CheckpointError(`${url}: HTTP ${response.status} ${response.statusText}${hint}`.trimEnd());
  }
  const encoding = response.headers.get('content-encoding') ?? 'identity';
  const lengthHeader = response.headers.get('content-length') ?? '';
  const size = start > 0 ? manifest!.size : /^\d+$/.test(lengthHeader) && encoding === 'identity' ? Number(lengthHeader) : null;
  if (size === null) return storeWhole(cache, url, file, response, onProgress);
  const current: Manifest = manifest ?? { size, validator: validatorOf(response), chunkBytes, stored: 0, complete: false };
  const report = (loaded: number) => onProgress?.(start > 0 ? { file, loaded, total: size, resumedFrom: start } : { file, loaded, total: size });

  let offset = start; // bytes of the file received (stored or buffered)
  let chunk = new Uint8Array(Math.min(current.chunkBytes, size - offset));
  let filled = 0;
  report(offset);
  const flush = async () => {
    const index = Math.floor((offset - filled) / current.chunkBytes);
    await cache.put(chunkKey(url, index), new Response(chunk, { headers: { 'content-length': String(chunk.byteLength) } }));
    current.stored = offset;
    current.complete = offset === size;
    await writeManifest(cache, url, current);
    chunk = new Uint8Array(Math.min(current.chunkBytes, size - offset));
    filled = 0;
  };
  if (!response.body) throw new CheckpointError(`${url}: the response has no body`);
  const reader = response.body.getReader();
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      throw new CheckpointError(`${url}: download failed after ${offset} of ${size} bytes (${(error as Error).message}); loading again resumes from byte ${current.stored}`);
    }
    if (next.done) break;
    let value = next.value;
    while (value.byteLength > 0) {
      if (offset >= size) {
        await reader.cancel().catch(() => undefined);
        throw new CheckpointError(`${url}: received more than the ${size} bytes announced`);
      }
      const take = Math.min(value.byteLength, chunk.byteLength - filled);
      chunk.set(value.subarray(0, take), filled);
      filled += take;
      offset += take;
      value = value.subarray(take);
      if (filled === chunk.byteLength) await flush();
    }
    report(offset);
  }
  if (offset !== size) throw new CheckpointError(`${url}: download truncated, received ${offset} of ${size} bytes; loading again resumes from byte ${current.stored}`);
  return { url, size, chunkBytes: current.chunkBytes, chunkCount: Math.ceil(size / current.chunkBytes) };
}

/** A body of unknown length (no content-length, or compressed): read whole, then stored in chunks. */
async function storeWhole(cache: Cache, url: string, file: string, response: Response, onProgress?: ProgressFn): Promise<StoredFile> {
  if (!response.body) throw new CheckpointError(`${url}: the response has no body`);
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  onProgress?.({ file, loaded: 0, total: null });
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      throw new CheckpointError(`${url}: download failed after ${size} bytes (${(error as Error).message})`);
    }
    if (next.done) break;
    parts.push(next.value);
    size += next.value.byteLength;
    onProgress?.({ file, loaded: size, total: null });
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  const manifest: Manifest = { size, validator: validatorOf(response), chunkBytes: DOWNLOAD_CHUNK_BYTES, stored: size, complete: true };
  const count = Math.max(1, Math.ceil(size / manifest.chunkBytes));
  for (let i = 0; i < count; i++) {
    const chunk = bytes.slice(i * manifest.chunkBytes, Math.min(size, (i + 1) * manifest.chunkBytes));
    await cache.put(chunkKey(url, i), new Response(chunk, { headers: { 'content-length': String(chunk.byteLength) } }));
  }
  await writeManifest(cache, url, manifest);
  return { url, size, chunkBytes: manifest.chunkBytes, chunkCount: Math.ceil(size / manifest.chunkBytes) };
}

async function chunkResponse(cache: Cache, stored: StoredFile, index: number): Promise<Response> {
  const hit = await cache.match(chunkKey(stored.url, index));
  if (!hit) {
    await forgetStoredFile(cache, stored.url);
    throw new CheckpointError(`${stored.url}: stored chunk ${index} is gone (storage cleared?); loading again downloads it`);
  }
  return hit;
}

/** The whole stored file in memory. */
export async function readStoredFile(cache: Cache, stored: StoredFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(stored.size);
  for (let i = 0; i < stored.chunkCount; i++) {
    const part = new Uint8Array(await (await chunkResponse(cache, stored, i)).arrayBuffer());
    bytes.set(part, i * stored.chunkBytes);
  }
  return bytes;
}

/**
 * The stored file as a synchronous range reader where the runtime can read Blobs synchronously
 * (FileReaderSync: Web Workers), so a checkpoint is uploaded tensor by tensor from disk-backed
 * Blobs without being held in memory; null elsewhere (a page's main thread).
 */
export async function storedFileReader(cache: Cache, stored: StoredFile): Promise<RangeReader | null> {
  const Sync = (globalThis as { FileReaderSync?: new () => { readAsArrayBuffer(blob: Blob): ArrayBuffer } }).FileReaderSync;
  if (!Sync) return null;
  const blobs: Blob[] = [];
  for (let i = 0; i < stored.chunkCount; i++) blobs.push(await (await chunkResponse(cache, stored, i)).blob());
  const whole = new Blob(blobs);
  const reader = new Sync();
  return {
    size: stored.size,
    readSync: (offset, length) => new Uint8Array(reader.readAsArrayBuffer(whole.slice(offset, offset + length))),
  };
}
