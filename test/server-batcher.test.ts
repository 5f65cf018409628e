// The server's dynamic batcher and request schemas, with a fake forward (no GPU): requests that
// arrive together share forwards within the token and sequence limits, each gets its own rows
// back in order, a cancelled request costs only its rows, a full queue is a 429, a failed
// forward fails only the requests in it; bodies get TEI's status codes.
import { describe, expect, it } from 'vitest';
import { Batcher, CancelledError, type PackedForward } from '../src/server/batcher';
import { HttpError } from '../src/server/http-error';
import { parseEmbed, parseOpenAIEmbeddings, parsePredict, parseRerank, parseTokenize } from '../src/server/schemas';

/** A forward whose row i is [first id, length] of sequence i; records every call. */
function fakeForward() {
  const calls: { sequences: number[][]; typeIds: number[][] | null; output: string }[] = [];
  let release: (() => void) | null = null;
  let gate: Promise<void> | null = null;
  const forward: PackedForward = async (sequences, typeIds, output) => {
    calls.push({ sequences, typeIds, output });
    if (gate) await gate;
    const out = new Float32Array(sequences.length * 2);
    sequences.forEach((s, i) => out.set([s[0], s.length], i * 2));
    return out;
  };
  return {
    calls,
    forward,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    release() {
      gate = null;
      release?.();
    },
  };
}

const seq = (first: number, length: number) => [first, ...new Array(length - 1).fill(7)];
const rowsOf = (out: Float32Array) => Array.from({ length: out.length / 2 }, (_, i) => [out[2 * i], out[2 * i + 1]]);

describe('Batcher', () => {
  it('merges requests that arrive together into one forward and gives each its rows in order', async () => {
    const fake = fakeForward();
    const batcher = new Batcher(fake.forward, { maxBatchTokens: 1000, maxBatchRequests: null, maxConcurrentRequests: 10 });
    const a = batcher.submit([seq(1, 3), seq(2, 5)], null, 'x', 2);
    const b = batcher.submit([seq(3, 4)], [[0, 0, 1, 1]], 'x', 2);
    expect(rowsOf(await a.result)).toEqual([
      [1, 3],
      [2, 5],
    ]);
    expect(rowsOf(await b.result)).toEqual([[3, 4]]);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0].sequences.map((s) => s[0])).toEqual([1, 2, 3]);
    expect(fake.calls[0].typeIds).toEqual([[0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1, 1]]); // rows without types get zeros
    await batcher.idle();
  });

  it('splits by --max-batch-tokens and --max-batch-requests, first come first served, one output kind per forward', async () => {
    const fake = fakeForward();
    const batcher = new Batcher(fake.forward, { maxBatchTokens: 10, maxBatchRequests: 2, maxConcurrentRequests: 10 });
    const jobs = [
      batcher.submit([seq(1, 6), seq(2, 6)], null, 'x', 2), // 12 tokens: two forwards
      batcher.submit([seq(3, 2)], null, 'y', 2), // another output: its own forward
      batcher.submit([seq(4, 2), seq(5, 2), seq(6, 2)], null, 'x', 2), // three sequences, at most 2 per forward
    ];
    const results = await Promise.all(jobs.map((j) => j.result));
    expect(rowsOf(results[2]).map((r) => r[0])).toEqual([4, 5, 6]);
    for (const call of fake.calls) {
      expect(call.sequences.length).toBeLessThanOrEqual(2);
      expect(call.sequences.reduce((a, s) => a + s.length, 0)).toBeLessThanOrEqual(10);
      expect(new Set(call.sequences.map((s) => (s[0] === 3 ? 'y' : 'x'))).size).toBe(1);
    }
    expect(fake.calls.map((c) => c.sequences.map((s) => s[0]))).toEqual([[1], [2, 4], [3], [5, 6]]); // the oldest waiting sequence picks each forward's kind
  });

  it('a cancelled request leaves the queue and costs nobody else anything; a full queue is a 429', async () => {
    const fake = fakeForward();
    fake.hold();
    const batcher = new Batcher(fake.forward, { maxBatchTokens: 1000, maxBatchRequests: 1, maxConcurrentRequests: 3 });
    const first = batcher.submit([seq(1, 2)], null, 'x', 2);
    await new Promise((resolve) => setImmediate(resolve)); // the first forward is running (held)
    const gone = batcher.submit([seq(2, 2), seq(3, 2)], null, 'x', 2);
    const kept = batcher.submit([seq(4, 2)], null, 'x', 2);
    expect(() => batcher.submit([seq(5, 2)], null, 'x', 2)).toThrow(HttpError);
    try {
      batcher.submit([seq(5, 2)], null, 'x', 2);
    } catch (e) {
      expect((e as HttpError).status).toBe(429);
      expect((e as HttpError).errorType).toBe('overloaded');
    }
    expect(batcher.queuedSequences).toBe(3);
    gone.cancel();
    await expect(gone.result).rejects.toBeInstanceOf(CancelledError);
    expect(batcher.queuedSequences).toBe(1);
    fake.release();
    expect(rowsOf(await first.result)).toEqual([[1, 2]]);
    expect(rowsOf(await kept.result)).toEqual([[4, 2]]);
    expect(fake.calls.map((c) => c.sequences[0][0])).toEqual([1, 4]); // sequences 2 and 3 never ran
    await batcher.idle();
    expect(batcher.inFlight).toBe(0);
  });

  it('a failed forward rejects the requests in it only', async () => {
    let calls = 0;
    const batcher = new Batcher(
      async (sequences) => {
        if (calls++ === 0) throw new Error('boom');
        return new Float32Array(sequences.length).fill(1);
      },
      { maxBatchTokens: 4, maxBatchRequests: null, maxConcurrentRequests: 10 },
    );
    const a = batcher.submit([seq(1, 4)], null, 'x', 1);
    const b = batcher.submit([seq(2, 4)], null, 'x', 1);
    await expect(a.result).rejects.toThrow('boom');
    expect(Array.from(await b.result)).toEqual([1]);
  });
});

describe('request schemas: TEI status codes', () => {
  const limits = { maxClientBatchSize: 4, autoTruncate: false };
  const status = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(HttpError);
      return [(e as HttpError).status, (e as HttpError).errorType, (e as HttpError).message];
    }
    throw new Error('no error');
  };

  it('parses the TEI and OpenAI shapes with their defaults', () => {
    expect(parseEmbed({ inputs: 'a' }, limits)).toEqual({ inputs: ['a'], normalize: true, promptName: null, dimensions: null, truncate: false, direction: 'right' });
    expect(parseEmbed({ inputs: [1, 2, 3], truncate: true, truncation_direction: 'Left' }, limits)).toMatchObject({ inputs: [[1, 2, 3]], truncate: true, direction: 'left' });
    expect(parseEmbed({ inputs: ['a', [5, 6]], normalize: false, dimensions: 8 }, limits)).toMatchObject({ inputs: ['a', [5, 6]], normalize: false, dimensions: 8 });
    expect(parseOpenAIEmbeddings({ input: [[1], [2]], encoding_format: 'base64', model: 'm' }, limits)).toMatchObject({ inputs: [[1], [2]], encodingFormat: 'base64', model: 'm' });
    expect(parsePredict({ inputs: ['a', 'b'] }, limits)).toMatchObject({ inputs: [['a', 'b']], single: true });
    expect(parsePredict({ inputs: [['a'], ['b', 'c']], raw_scores: true }, limits)).toMatchObject({ inputs: ['a', ['b', 'c']], single: false, rawScores: true });
    expect(parseRerank({ query: 'q', texts: ['a'], return_text: true }, limits)).toMatchObject({ query: 'q', texts: ['a'], returnText: true, rawScores: false });
    expect(parseTokenize({ inputs: 'a' }, limits)).toMatchObject({ inputs: ['a'], addSpecialTokens: true });
  });

  it('422 for wrong types and values, 400 for empty batches, 413 over --max-client-batch-size', () => {
    expect(status(() => parseEmbed({ inputs: 3 }, limits))).toEqual([422, 'validation', '`inputs` must be a string, a list of strings, or token ids, got number']);
    expect(status(() => parseEmbed({ inputs: 'a', normalize: 'yes' }, limits))).toEqual([422, 'validation', '`normalize` must be true or false, got "yes"']);
    expect(status(() => parseEmbed({ inputs: 'a', truncation_direction: 'up' }, limits))[0]).toBe(422);
    expect(status(() => parseEmbed({ inputs: 'a', dimensions: 0 }, limits))[0]).toBe(422);
    expect(status(() => parseEmbed({ inputs: [[1.5]] }, limits))[0]).toBe(422);
    expect(status(() => parseEmbed([], limits))[0]).toBe(422);
    expect(status(() => parseEmbed({ inputs: [] }, limits))).toEqual([400, 'empty', '`inputs` cannot be empty']);
    expect(status(() => parseEmbed({ inputs: ['a', 'b', 'c', 'd', 'e'] }, limits))).toEqual([413, 'validation', 'batch size 5 > maximum allowed batch size 4']);
    expect(status(() => parseRerank({ query: 'q', texts: [] }, limits))[0]).toBe(400);
    expect(status(() => parseRerank({ query: 1, texts: ['a'] }, limits))[0]).toBe(422);
    expect(status(() => parsePredict({ inputs: ['a', 'b', 'c'] }, limits))[0]).toBe(422);
    expect(status(() => parseOpenAIEmbeddings({ input: 'a', encoding_format: 'hex' }, limits))[0]).toBe(422);
  });
});
