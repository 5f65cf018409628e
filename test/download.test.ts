// Resumable downloads into Cache Storage (src/sources/download.ts), against a fake HTTP server that
// honours Range and If-Range and can drop the connection part way: an interrupted download
// resumes from the stored chunks; a file changed on the server (ETag, size) starts over.
import { describe, expect, it } from 'vitest';
import { downloadToCache, readStoredFile } from '../src/sources/download';
import { CheckpointError } from '../src/errors';
import type { Progress } from '../src/checkpoint';

const CHUNK = 1000;

/** A Cache Storage stand-in that, like the real one, matches URLs without their fragment. */
function fakeCache() {
  const store = new Map<string, Response>();
  const key = (url: string) => url.split('#')[0];
  const cache = {
    match: async (url: string) => store.get(key(url))?.clone(),
    put: async (url: string, response: Response) => void store.set(key(url), new Response(await response.arrayBuffer(), { headers: response.headers })),
    delete: async (url: string) => store.delete(key(url)),
  };
  return { cache: cache as unknown as Cache, store };
}

/** Serves `file()` with an ETag; `failAfter` bytes into a body, the connection drops. */
function fakeServer(state: { file: Uint8Array; etag: string; failAfter?: number }) {
  const log: { range: string | null; ifRange: string | null; status: number; bytes: number }[] = [];
  const fetchImpl = (async (_url: string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const range = headers.get('range');
    const ifRange = headers.get('if-range');
    let start = 0;
    let status = 200;
    if (range && (ifRange === null || ifRange === state.etag)) {
      start = Number(/^bytes=(\d+)-$/.exec(range)![1]);
      status = 206;
    }
    const body = state.file.subarray(start);
    const failAfter = state.failAfter;
    state.failAfter = undefined; // one failure per arming
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= body.byteLength) return controller.close();
        if (failAfter !== undefined && sent >= failAfter) return controller.error(new Error('connection reset'));
        const n = Math.min(700, body.byteLength - sent, failAfter !== undefined ? failAfter - sent : Infinity);
        controller.enqueue(body.slice(sent, sent + n));
        sent += n;
      },
    });
    const responseHeaders: Record<string, string> = { etag: state.etag, 'content-length': String(body.byteLength) };
    if (status === 206) responseHeaders['content-range'] = `bytes ${start}-${state.file.byteLength - 1}/${state.file.byteLength}`;
    log.push({ range, ifRange, status, bytes: body.byteLength });
    return new Response(stream, { status, headers: responseHeaders });
  }) as unknown as typeof fetch;
  return { fetchImpl, log };
}

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe('resumable downloads', () => {
  it('an interrupted download resumes from the stored chunks with a Range request', async () => {
    const { cache } = fakeCache();
    const state = { file: bytesOf(10_500, 1), etag: '"v1"', failAfter: 6_300 }; // stops at 60%
    const { fetchImpl, log } = fakeServer(state);
    const url = 'https://hub.test/m/resolve/main/model.safetensors';
    const error = await downloadToCache(cache, url, 'model.safetensors', fetchImpl, undefined, CHUNK).catch((e) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/download failed after 6300 of 10500 bytes .*resumes from byte 6000/);

    const progress: Progress[] = [];
    const stored = await downloadToCache(cache, url, 'model.safetensors', fetchImpl, (p) => progress.push(p), CHUNK);
    expect(log[1]).toEqual({ range: 'bytes=6000-', ifRange: '"v1"', status: 206, bytes: 4_500 });
    expect(progress[0]).toEqual({ file: 'model.safetensors', loaded: 6000, total: 10_500, resumedFrom: 6000 });
    expect(progress.at(-1)).toMatchObject({ loaded: 10_500, total: 10_500, resumedFrom: 6000 });
    expect(await readStoredFile(cache, stored!)).toEqual(state.file);

    // Complete: a third load asks the network nothing.
    const again = await downloadToCache(cache, url, 'model.safetensors', fetchImpl, undefined, CHUNK);
    expect(log).toHaveLength(2);
    expect(await readStoredFile(cache, again!)).toEqual(state.file);
  });

  it('a file changed on the server (new ETag) invalidates the stored chunks', async () => {
    const { cache } = fakeCache();
    const state = { file: bytesOf(5_000, 2), etag: '"v1"', failAfter: 2_500 };
    const { fetchImpl, log } = fakeServer(state);
    const url = 'https://hub.test/m/resolve/main/model.safetensors';
    await expect(downloadToCache(cache, url, 'model.safetensors', fetchImpl, undefined, CHUNK)).rejects.toThrow(CheckpointError);
    state.file = bytesOf(5_000, 3);
    state.etag = '"v2"';
    const stored = await downloadToCache(cache, url, 'model.safetensors', fetchImpl, undefined, CHUNK);
    expect(log[1]).toMatchObject({ range: 'bytes=2000-', ifRange: '"v1"', status: 200 }); // If-Range failed: the whole new file
    expect(await readStoredFile(cache, stored!)).toEqual(state.file);
  });

  it('a server that ignores Range, or a different size, starts over too', async () => {
    const { cache } = fakeCache();
    const state = { file: bytesOf(4_200, 4), etag: '', failAfter: 3_100 };
    const { fetchImpl, log } = fakeServer(state);
    const url = 'https://hub.test/m/resolve/main/model.safetensors';
    await expect(downloadToCache(cache, url, 'model.safetensors', fetchImpl, undefined, CHUNK)).rejects.toThrow(/resumes from byte 3000/);
    state.file = bytesOf(4_400, 5); // grew: the 206's Content-Range total differs
    const stored = await downloadToCache(cache, url, 'model.safetensors', fetchImpl, undefined, CHUNK);
    expect(log.map((l) => l.status)).toEqual([200, 206, 200]);
    expect(await readStoredFile(cache, stored!)).toEqual(state.file);
  });

  it('404 is null; a body longer than announced is an error', async () => {
    const { cache } = fakeCache();
    const notFound = (async () => new Response('no', { status: 404 })) as unknown as typeof fetch;
    expect(await downloadToCache(cache, 'https://hub.test/x', 'x', notFound, undefined, CHUNK)).toBeNull();
    const lying = (async () => new Response(bytesOf(3000, 6), { headers: { 'content-length': '2000' } })) as unknown as typeof fetch;
    await expect(downloadToCache(cache, 'https://hub.test/y', 'y', lying, undefined, CHUNK)).rejects.toThrow(/received more than the 2000 bytes announced/);
  });
});
