import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bf16ToF32, decodeToFloat32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/dtype';
import { CheckpointError } from '../src/errors';
import { parseSafetensors, serializeSafetensors } from '../src/safetensors';
import { FIXTURES_DIR, fixtureCases } from './fixtures';

function expectCheckpointError(action: () => unknown, message: RegExp): void {
  expect(action).toThrow(CheckpointError);
  expect(action).toThrow(message);
}

/** A safetensors file with an arbitrary header (object or raw text) and `dataBytes` zero bytes of data. */
function rawFile(header: object | string, dataBytes = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

/** Byte equality without vitest's slow deep diff of megabyte arrays. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, index) => byte === b[index]);
}

describe('f16 and bf16 scalar conversions', () => {
  it('decodes known f16 bit patterns', () => {
    expect(f16ToF32(0x0000)).toBe(0);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0x7c01)).toBeNaN();
  });

  it('decodes known bf16 bit patterns', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc000)).toBe(-2);
    expect(Object.is(bf16ToF32(0x8000), -0)).toBe(true);
    expect(bf16ToF32(0x3eab)).toBe(0.333984375);
    expect(bf16ToF32(0x0001)).toBe(2 ** -133);
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
    expect(bf16ToF32(0xff80)).toBe(-Infinity);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });

  it('encodes f16 with round-to-nearest-even, subnormals, overflow, inf and nan', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519)).toBe(0x7bff); // below the midpoint to 65536
    expect(f32ToF16(65520)).toBe(0x7c00); // the midpoint: ties to even, which is infinity
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f32ToF16(Infinity)).toBe(0x7c00);
    expect(f32ToF16(-Infinity)).toBe(0xfc00);
    const nan = f32ToF16(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
    // Ties between normal neighbours go to the even mantissa.
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(f32ToF16(2049)).toBe(0x6800);
    expect(f32ToF16(2051)).toBe(0x6802);
    // Subnormals: unit 2^-24.
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie with zero: even
    expect(f32ToF16(-(2 ** -25))).toBe(0x8000);
    expect(f32ToF16(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 units: even
    expect(f32ToF16(1023.5 * 2 ** -24)).toBe(0x0400); // rounds up into the smallest normal
    expect(f32ToF16(1e-10)).toBe(0x0000);
    expect(f32ToF16(2 ** -14)).toBe(0x0400);
  });

  it('encodes bf16 with round-to-nearest-even', () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(-0)).toBe(0x8000);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie: even
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie: even
    expect(f32ToBf16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16(3.4028234663852886e38)).toBe(0x7f80); // largest f32 rounds to infinity
    expect(f32ToBf16(Infinity)).toBe(0x7f80);
    expect(f32ToBf16(-Infinity)).toBe(0xff80);
    const nan = f32ToBf16(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x007f).not.toBe(0);
  });

  it('round-trips every non-NaN f16 and bf16 bit pattern', () => {
    const mismatches: string[] = [];
    for (let bits = 0; bits < 65536; bits++) {
      const half = f16ToF32(bits);
      if (!Number.isNaN(half) && f32ToF16(half) !== bits) mismatches.push(`f16 ${bits.toString(16)}`);
      const brain = bf16ToF32(bits);
      if (!Number.isNaN(brain) && f32ToBf16(brain) !== bits) mismatches.push(`bf16 ${bits.toString(16)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('decodes buffers whose byte offset is not aligned', () => {
    const values = [1.5, -2.25, 65504, 2 ** -24];
    const f32 = new Uint8Array(new Float32Array(values).buffer);
    const f16 = new Uint8Array(new Uint16Array(values.map(f32ToF16)).buffer);
    const bf16 = new Uint8Array(new Uint16Array(values.map(f32ToBf16)).buffer);
    const f64 = new Uint8Array(new Float64Array(values).buffer);
    for (const [dtype, bytes] of [['F32', f32], ['F16', f16], ['BF16', bf16], ['F64', f64]] as const) {
      const shifted = new Uint8Array(bytes.byteLength + 1);
      shifted.set(bytes, 1);
      const expected = Array.from(decodeToFloat32(bytes, dtype));
      expect(Array.from(decodeToFloat32(shifted.subarray(1), dtype))).toEqual(expected);
    }
    expect(Array.from(decodeToFloat32(f32, 'F32'))).toEqual(values);
    expect(Array.from(decodeToFloat32(f64, 'F64'))).toEqual(values);
    expect(Array.from(decodeToFloat32(f16, 'F16'))).toEqual(values);
  });
});

describe('safetensors round trip', () => {
  it('round-trips every writable dtype and the metadata', () => {
    const floats = new Float32Array([0.1, -3.5, 1e-3, 42]);
    const bytes = serializeSafetensors(
      {
        f32: { dtype: 'F32', shape: [2, 2], data: floats },
        f16: { dtype: 'F16', shape: [4], data: floats },
        f16Bits: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
        bf16: { dtype: 'BF16', shape: [1, 4], data: [0.1, -3.5, 1e-3, 42] },
        i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([-1n, 0n, 2147483647n]) },
        i64FromNumbers: { dtype: 'I64', shape: [2], data: [101, 102] },
        i32: { dtype: 'I32', shape: [2], data: new Int32Array([-7, 30521]) },
        scalar: { dtype: 'F32', shape: [], data: [7] },
        empty: { dtype: 'F32', shape: [0, 3], data: [] },
      },
      { format: 'pt' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);

    const file = parseSafetensors(bytes, 'roundtrip.safetensors');
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.names().sort()).toEqual(['bf16', 'empty', 'f16', 'f16Bits', 'f32', 'i32', 'i64', 'i64FromNumbers', 'scalar']);
    expect(file.entry('f32')).toMatchObject({ dtype: 'F32', shape: [2, 2] });
    expect(file.toFloat32('f32')).toEqual(floats);
    expect(Array.from(file.toFloat32('f16'))).toEqual(Array.from(floats, (value) => f16ToF32(f32ToF16(value))));
    expect(Array.from(file.toFloat32('f16Bits'))).toEqual([1, -2]);
    expect(Array.from(file.toFloat32('bf16'))).toEqual(Array.from(floats, (value) => bf16ToF32(f32ToBf16(value))));
    expect(Array.from(file.toInt32('i64'))).toEqual([-1, 0, 2147483647]);
    expect(Array.from(file.toInt32('i64FromNumbers'))).toEqual([101, 102]);
    expect(Array.from(file.toInt32('i32'))).toEqual([-7, 30521]);
    expect(Array.from(file.toFloat32('scalar'))).toEqual([7]);
    expect(file.toFloat32('empty').length).toBe(0);
    expect(file.bytes('f16Bits')).toEqual(new Uint8Array([0x00, 0x3c, 0x00, 0xc0]));
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const bytes = serializeSafetensors({ a: { dtype: 'F32', shape: [1], data: [1] } });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(header).toMatch(/^\{.*\} *$/);
    expect(JSON.parse(header)).toEqual({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
  });

  it('reads I16, I8, U8 and F64, which it does not write', () => {
    const i16 = new Int16Array([-300, 300]);
    const i8 = new Int8Array([-5, 5]);
    const u8 = new Uint8Array([250, 1]);
    const f64 = new Float64Array([0.5, -1.25]);
    const data = new Uint8Array(16 + 4 + 2 + 2);
    data.set(new Uint8Array(f64.buffer), 0);
    data.set(new Uint8Array(i16.buffer), 16);
    data.set(new Uint8Array(i8.buffer), 20);
    data.set(u8, 22);
    const file = rawFile({
      f64: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
      i16: { dtype: 'I16', shape: [2], data_offsets: [16, 20] },
      i8: { dtype: 'I8', shape: [2], data_offsets: [20, 22] },
      u8: { dtype: 'U8', shape: [2], data_offsets: [22, 24] },
    }, data.byteLength);
    file.set(data, file.byteLength - data.byteLength);
    const parsed = parseSafetensors(file, 'mixed.safetensors');
    expect(Array.from(parsed.toFloat32('f64'))).toEqual([0.5, -1.25]);
    expect(Array.from(parsed.toInt32('i16'))).toEqual([-300, 300]);
    expect(Array.from(parsed.toInt32('i8'))).toEqual([-5, 5]);
    expect(Array.from(parsed.toInt32('u8'))).toEqual([250, 1]);
  });

  it('parses every fixture file and re-serializes it to the same tensors', () => {
    for (const fixture of fixtureCases()) {
      for (const fileName of ['model.safetensors', 'expected.safetensors']) {
        const original = parseSafetensors(readFileSync(join(FIXTURES_DIR, fixture, fileName)), fileName);
        const tensors = Object.fromEntries(
          original.names().map((name) => {
            const { dtype, shape } = original.entry(name);
            const bytes = original.bytes(name);
            const data =
              dtype === 'I64' ? new BigInt64Array(new Uint8Array(bytes).buffer)
              : dtype === 'F32' ? original.toFloat32(name)
              : new Uint16Array(new Uint8Array(bytes).buffer);
            return [name, { dtype: dtype as 'F32' | 'F16' | 'BF16' | 'I64', shape, data }];
          }),
        );
        const copy = parseSafetensors(serializeSafetensors(tensors, original.metadata), fileName);
        expect(copy.names().sort()).toEqual(original.names().sort());
        for (const name of original.names()) expect(sameBytes(copy.bytes(name), original.bytes(name)), name).toBe(true);
      }
    }
  });
});

describe('safetensors validation', () => {
  const f32Entry = (begin: number, end: number, shape = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

  it('rejects a file too short to hold the header length', () => {
    expectCheckpointError(() => parseSafetensors(new Uint8Array(5), 'short.safetensors'), /short\.safetensors: file is 5 bytes, too short/);
  });

  it('rejects a header length of 0, over 100 MB, or past the end of the file', () => {
    expectCheckpointError(() => parseSafetensors(new Uint8Array(8), 'zero.safetensors'), /zero\.safetensors: header length is 0/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
    expectCheckpointError(() => parseSafetensors(huge, 'huge.safetensors'), /huge\.safetensors: header length 200000000 exceeds/);
    const past = rawFile({}).subarray(0, 9);
    expectCheckpointError(() => parseSafetensors(past, 'cut.safetensors'), /cut\.safetensors: header length 2 runs past the end of the file \(9 bytes\)/);
  });

  it('rejects a header that is not UTF-8, not JSON, or not an object', () => {
    const notUtf8 = rawFile('{}  ');
    notUtf8[9] = 0xff;
    expectCheckpointError(() => parseSafetensors(notUtf8, 'bytes.safetensors'), /bytes\.safetensors: header is not valid UTF-8/);
    expectCheckpointError(() => parseSafetensors(rawFile('{"a": '), 'bad.safetensors'), /bad\.safetensors: header is not valid JSON/);
    expectCheckpointError(() => parseSafetensors(rawFile('[1, 2]'), 'list.safetensors'), /list\.safetensors: header is not a JSON object/);
  });

  it('rejects __metadata__ that is not a string-to-string map', () => {
    expectCheckpointError(
      () => parseSafetensors(rawFile({ __metadata__: { step: 3 } }), 'meta.safetensors'),
      /meta\.safetensors: __metadata__ value for "step" is 3, expected a string/,
    );
    expectCheckpointError(() => parseSafetensors(rawFile({ __metadata__: 'pt' }), 'meta.safetensors'), /__metadata__ is not a JSON object/);
  });

  it('rejects an unknown dtype', () => {
    const file = rawFile({ w: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, 4);
    expectCheckpointError(() => parseSafetensors(file, 'fp8.safetensors'), /fp8\.safetensors: tensor "w" has unknown dtype "F8_E4M3"/);
  });

  it('rejects invalid shapes and offsets', () => {
    expectCheckpointError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8), 'x.safetensors'),
      /x\.safetensors: tensor "w" has invalid shape \[2,-1\]/,
    );
    expectCheckpointError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, 8), 'x.safetensors'),
      /tensor "w" has invalid data_offsets \[0\]/,
    );
    expectCheckpointError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8), 'x.safetensors'),
      /tensor "w" has data_offsets \[8, 4\] with begin > end/,
    );
  });

  it('rejects offsets past the end of the data (a truncated file)', () => {
    const whole = serializeSafetensors({ a: { dtype: 'F32', shape: [4], data: [1, 2, 3, 4] } });
    expectCheckpointError(
      () => parseSafetensors(whole.subarray(0, whole.byteLength - 3), 'truncated.safetensors'),
      /truncated\.safetensors: tensor "a" has data_offsets \[0, 16\] past the end of the data section \(13 bytes\)/,
    );
  });

  it('rejects a byte length that does not match shape and dtype', () => {
    const file = rawFile({ w: f32Entry(0, 8, [3]) }, 8);
    expectCheckpointError(() => parseSafetensors(file, 'x.safetensors'), /x\.safetensors: tensor "w" has 8 bytes, expected 12 for shape \[3\] of F32/);
  });

  it('rejects overlapping tensors', () => {
    const file = rawFile({ a: f32Entry(0, 8), b: f32Entry(4, 12) }, 12);
    expectCheckpointError(
      () => parseSafetensors(file, 'overlap.safetensors'),
      /overlap\.safetensors: tensor "b" bytes \[4, 12\) overlap tensor "a" bytes \[0, 8\)/,
    );
    // Touching ranges and empty tensors are fine.
    const adjacent = rawFile({ a: f32Entry(0, 8), b: f32Entry(8, 12), c: f32Entry(8, 8) }, 12);
    expect(parseSafetensors(adjacent, 'ok.safetensors').names()).toHaveLength(3);
  });

  it('names file and tensor when a tensor is absent or has the wrong kind of dtype', () => {
    const file = parseSafetensors(
      serializeSafetensors({ ids: { dtype: 'I64', shape: [2], data: [1, 2 ** 32] }, w: { dtype: 'F32', shape: [1], data: [1] } }),
      'x.safetensors',
    );
    expectCheckpointError(() => file.entry('nope'), /x\.safetensors: no tensor named "nope"/);
    expect(file.has('nope')).toBe(false);
    expectCheckpointError(() => file.toFloat32('ids'), /x\.safetensors: tensor "ids" has dtype I64, expected a float dtype/);
    expectCheckpointError(() => file.toInt32('w'), /x\.safetensors: tensor "w" has dtype F32, expected an integer dtype/);
    expectCheckpointError(() => file.toInt32('ids'), /x\.safetensors: tensor "ids" value 4294967296 at index 1 does not fit in int32/);
  });

  it('refuses to serialize data that does not match the shape or dtype', () => {
    expectCheckpointError(
      () => serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } }),
      /tensor "w" has 3 values, shape \[2, 2\] needs 4/,
    );
    expectCheckpointError(() => serializeSafetensors({ w: { dtype: 'I32', shape: [1], data: [0.5] } }), /tensor "w" needs integer data/);
    expectCheckpointError(
      () => serializeSafetensors({ w: { dtype: 'F32', shape: [1], data: new BigInt64Array(1) } }),
      /tensor "w" has BigInt64Array data, which cannot be stored as F32/,
    );
  });

  it('reads the I64 inputs of every expected.safetensors fixture', () => {
    for (const fixture of fixtureCases()) {
      const expected = parseSafetensors(readFileSync(join(FIXTURES_DIR, fixture, 'expected.safetensors')), 'expected.safetensors');
      const ids = expected.toInt32('input_ids');
      const mask = expected.toInt32('attention_mask');
      expect(ids.length).toBe(mask.length);
      expect(mask.every((value) => value === 0 || value === 1)).toBe(true);
    }
  });
});
