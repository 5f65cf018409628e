// Scalar and bulk conversions between float formats stored in checkpoints.
// Typed-array views assume a little-endian host, as safetensors and WebGPU buffers do;
// every browser and Node platform we target is little-endian.

import { CheckpointError } from './errors';

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export function f16ToF32(u16: number): number {
  const sign = u16 & 0x8000 ? -1 : 1;
  const exponent = (u16 >> 10) & 0x1f;
  const mantissa = u16 & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function bf16ToF32(u16: number): number {
  scratchU32[0] = (u16 & 0xffff) << 16;
  return scratchF32[0];
}

function f32Bits(value: number): number {
  scratchF32[0] = value;
  return scratchU32[0];
}

/** Rounds `value` to f32 and then to the nearest f16 (ties to even); returns the 16 bits. */
export function f32ToF16(value: number): number {
  const bits = f32Bits(value);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    // Keep NaN a NaN: force a mantissa bit in case the payload lives only in the dropped bits.
    return mantissa ? sign | 0x7e00 | (mantissa >>> 13) : sign | 0x7c00;
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;

  if (halfExponent <= 0) {
    // Below 2^-25 even the smallest subnormal is more than twice away: rounds to zero.
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    let half = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && half & 1)) half++;
    // A carry out of the subnormal mantissa lands exactly on the smallest normal.
    return sign | half;
  }

  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half++;
  // A carry may bump the exponent, up to 0x7c00 (infinity), which is the correct rounding.
  return sign | half;
}

/** Rounds `value` to f32 and then to the nearest bfloat16 (ties to even); returns the 16 bits. */
export function f32ToBf16(value: number): number {
  const bits = f32Bits(value);
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}

let f16Table: Float32Array | null = null;

/** All 65536 f16 values, built once: a table lookup beats bit twiddling per element. */
function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16ToF32(bits);
  }
  return f16Table;
}

/** Element view of `bytes`, copying first when its offset breaks the element alignment. */
function alignedBuffer(bytes: Uint8Array, alignment: number): { buffer: ArrayBuffer; byteOffset: number } {
  if (bytes.byteOffset % alignment === 0) return { buffer: bytes.buffer as ArrayBuffer, byteOffset: bytes.byteOffset };
  // `new Uint8Array(x)` always copies (Buffer.prototype.slice would not).
  return { buffer: new Uint8Array(bytes).buffer, byteOffset: 0 };
}

const DTYPE_BYTES: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/**
 * Decodes little-endian float data to f32. For aligned F32 input the result shares memory with
 * `bytes` (no copy of a ~1 GB checkpoint); callers must not write into it.
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  const itemSize = DTYPE_BYTES[dtype];
  if (bytes.byteLength % itemSize !== 0) {
    throw new CheckpointError(`decodeToFloat32: ${bytes.byteLength} bytes is not a whole number of ${dtype} values`);
  }
  const count = bytes.byteLength / itemSize;
  const { buffer, byteOffset } = alignedBuffer(bytes, itemSize);
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, byteOffset, count);
    case 'F64':
      return Float32Array.from(new Float64Array(buffer, byteOffset, count));
    case 'F16': {
      const table = f16ToF32Table();
      const halves = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[halves[i]];
      return out;
    }
    case 'BF16': {
      const halves = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = halves[i] << 16;
      return out;
    }
  }
}

export function encodeF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16(values[i]);
  return out;
}

export function encodeBf16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16(values[i]);
  return out;
}
