// Reader and writer for the safetensors format: 8-byte little-endian header length, a JSON header
// describing every tensor, then the raw little-endian tensor bytes.

import { decodeToFloat32, encodeBf16, encodeF16, type FloatDtype } from './dtype';
import { CheckpointError } from './errors';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTE_SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

const FLOAT_DTYPES: ReadonlySet<string> = new Set<FloatDtype>(['F32', 'F16', 'BF16', 'F64']);
const INTEGER_DTYPES: ReadonlySet<string> = new Set<SafetensorsDtype>(['I64', 'I32', 'I16', 'I8', 'U8']);

/** Same limit as the reference implementation: a bigger header is corrupt or hostile. */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header), as in `data_offsets`. */
  begin: number;
  end: number;
}

/**
 * A file read by byte ranges, synchronously: a Node file descriptor, a Blob in a worker
 * (FileReaderSync), or bytes in memory. Lets a checkpoint be converted and uploaded tensor by
 * tensor without ever holding the whole file.
 */
export interface RangeReader {
  size: number;
  /** `length` bytes from `offset`: a fresh array, or a view of bytes that never change. */
  readSync(offset: number, length: number): Uint8Array;
  close?(): void;
  /** True when the bytes were downloaded first (their progress was already reported). */
  downloaded?: boolean;
}

/** A RangeReader over bytes in memory (views, no copies). */
export function memoryRangeReader(bytes: Uint8Array): RangeReader {
  return { size: bytes.byteLength, readSync: (offset, length) => bytes.subarray(offset, offset + length) };
}

export class SafetensorsFile {
  constructor(
    readonly fileName: string,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly entries: ReadonlyMap<string, TensorEntry>,
    /** The file, read from `dataStart` on (the data section) by byte range. */
    private readonly reader: RangeReader,
    private readonly dataStart: number,
  ) {}

  /** Releases the underlying file (a no-op for bytes in memory); later reads fail. */
  close(): void {
    this.reader.close?.();
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): TensorEntry {
    const found = this.entries.get(name);
    if (!found) throw new CheckpointError(`${this.fileName}: no tensor named "${name}"`);
    return found;
  }

  /** The tensor's raw little-endian bytes (a view into the file when it is in memory). */
  bytes(name: string): Uint8Array {
    const { begin, end } = this.entry(name);
    const bytes = this.reader.readSync(this.dataStart + begin, end - begin);
    if (bytes.byteLength !== end - begin) throw new CheckpointError(`${this.fileName}: tensor "${name}" read ${bytes.byteLength} of ${end - begin} bytes (file changed?)`);
    return bytes;
  }

  /** Float tensor as f32; aligned F32 data is returned as a read-only-by-convention view. */
  toFloat32(name: string): Float32Array {
    const { dtype } = this.entry(name);
    if (!FLOAT_DTYPES.has(dtype)) {
      throw new CheckpointError(`${this.fileName}: tensor "${name}" has dtype ${dtype}, expected a float dtype (F32, F16, BF16, F64)`);
    }
    return decodeToFloat32(this.bytes(name), dtype as FloatDtype);
  }

  toInt32(name: string): Int32Array {
    const { dtype } = this.entry(name);
    if (!INTEGER_DTYPES.has(dtype)) {
      throw new CheckpointError(`${this.fileName}: tensor "${name}" has dtype ${dtype}, expected an integer dtype (I64, I32, I16, I8, U8)`);
    }
    const raw = this.bytes(name);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const count = raw.byteLength / DTYPE_BYTE_SIZES[dtype];
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      switch (dtype) {
        case 'I64': {
          const low = view.getInt32(8 * i, true);
          const high = view.getInt32(8 * i + 4, true);
          // Fits in int32 exactly when the high word is the sign extension of the low word.
          if (high !== (low < 0 ? -1 : 0)) {
            const value = view.getBigInt64(8 * i, true);
            throw new CheckpointError(`${this.fileName}: tensor "${name}" value ${value} at index ${i} does not fit in int32`);
          }
          out[i] = low;
          break;
        }
        case 'I32': out[i] = view.getInt32(4 * i, true); break;
        case 'I16': out[i] = view.getInt16(2 * i, true); break;
        case 'I8': out[i] = view.getInt8(i); break;
        case 'U8': out[i] = view.getUint8(i); break;
      }
    }
    return out;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseEntry(name: string, raw: unknown, dataSize: number, fileName: string): TensorEntry {
  const where = `${fileName}: tensor "${name}"`;
  if (!isPlainObject(raw)) throw new CheckpointError(`${where} header entry is not a JSON object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTE_SIZES, dtype)) {
    throw new CheckpointError(`${where} has unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTE_SIZES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new CheckpointError(`${where} has invalid shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw new CheckpointError(`${where} has invalid data_offsets ${JSON.stringify(offsets)}, expected [begin, end] non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new CheckpointError(`${where} has data_offsets [${begin}, ${end}] with begin > end`);
  if (end > dataSize) {
    throw new CheckpointError(`${where} has data_offsets [${begin}, ${end}] past the end of the data section (${dataSize} bytes)`);
  }
  const itemSize = DTYPE_BYTE_SIZES[dtype as SafetensorsDtype];
  const expectedBytes = shape.reduce((product: number, dim: number) => product * dim, 1) * itemSize;
  if (end - begin !== expectedBytes) {
    throw new CheckpointError(
      `${where} has ${end - begin} bytes, expected ${expectedBytes} for shape [${shape.join(', ')}] of ${dtype}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

/** Parses and fully validates a safetensors file; keeps views into `bytes` instead of copying. */
export function parseSafetensors(fileBytes: Uint8Array, fileName: string): SafetensorsFile {
  // A plain view, so a Node Buffer's different slice()/subarray() semantics never leak out.
  const bytes = new Uint8Array(fileBytes.buffer, fileBytes.byteOffset, fileBytes.byteLength);
  return openSafetensors(memoryRangeReader(bytes), fileName);
}

/**
 * Reads and fully validates a safetensors header through `reader`; tensor bytes are read only when
 * asked for (SafetensorsFile.bytes / toFloat32), so a gigabyte file costs its header up front.
 */
export function openSafetensors(reader: RangeReader, fileName: string): SafetensorsFile {
  const fileSize = reader.size;
  if (fileSize < 8) {
    throw new CheckpointError(`${fileName}: file is ${fileSize} bytes, too short for the 8-byte header length`);
  }
  const lengthBytes = reader.readSync(0, 8);
  const headerLength = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength === 0n) throw new CheckpointError(`${fileName}: header length is 0`);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(`${fileName}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const dataStart = 8 + Number(headerLength);
  if (dataStart > fileSize) {
    throw new CheckpointError(`${fileName}: header length ${headerLength} runs past the end of the file (${fileSize} bytes)`);
  }

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(reader.readSync(8, dataStart - 8));
  } catch {
    throw new CheckpointError(`${fileName}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    throw new CheckpointError(`${fileName}: header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) throw new CheckpointError(`${fileName}: header is not a JSON object`);

  const rawMetadata = header['__metadata__'] ?? {};
  if (!isPlainObject(rawMetadata)) throw new CheckpointError(`${fileName}: __metadata__ is not a JSON object`);
  for (const [key, value] of Object.entries(rawMetadata)) {
    if (typeof value !== 'string') {
      throw new CheckpointError(`${fileName}: __metadata__ value for "${key}" is ${JSON.stringify(value)}, expected a string`);
    }
  }
  // fromEntries defines own properties, so a key like "__proto__" cannot alter the prototype.
  const metadata = Object.fromEntries(Object.entries(rawMetadata)) as Record<string, string>;

  const entries = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    entries.set(name, parseEntry(name, raw, fileSize - dataStart, fileName));
  }

  const byBegin = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byBegin.length; i++) {
    const previous = byBegin[i - 1];
    const current = byBegin[i];
    if (current.begin < previous.end) {
      throw new CheckpointError(
        `${fileName}: tensor "${current.name}" bytes [${current.begin}, ${current.end}) overlap tensor "${previous.name}" bytes [${previous.begin}, ${previous.end})`,
      );
    }
  }
  return new SafetensorsFile(fileName, metadata, entries, reader, dataStart);
}

export type SerializableDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';

export interface SerializableTensor {
  dtype: SerializableDtype;
  shape: number[];
  /** Float values for F32/F16/BF16 (Uint16Array = raw F16/BF16 bits), integers for I64/I32. */
  data: Float32Array | Int32Array | BigInt64Array | Uint16Array | number[];
}

function toIntegers(name: string, data: SerializableTensor['data']): ArrayLike<number> {
  if (data instanceof Int32Array) return data;
  if (Array.isArray(data) && data.every(Number.isSafeInteger)) return data;
  throw new CheckpointError(`serializeSafetensors: tensor "${name}" needs integer data (Int32Array, BigInt64Array or integer number[])`);
}

function encodeTensor(name: string, { dtype, data }: SerializableTensor): Uint8Array {
  const asBytes = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const isFloatInput = data instanceof Float32Array || Array.isArray(data);
  switch (dtype) {
    case 'F32':
      if (isFloatInput) return asBytes(Float32Array.from(data));
      break;
    case 'F16':
    case 'BF16':
      if (data instanceof Uint16Array) return asBytes(data);
      if (isFloatInput) return asBytes(dtype === 'F16' ? encodeF16(data) : encodeBf16(data));
      break;
    case 'I64':
      if (data instanceof BigInt64Array) return asBytes(data);
      return asBytes(BigInt64Array.from(toIntegers(name, data), (value) => BigInt(value)));
    case 'I32':
      return asBytes(Int32Array.from(toIntegers(name, data)));
  }
  throw new CheckpointError(`serializeSafetensors: tensor "${name}" has ${data.constructor.name} data, which cannot be stored as ${dtype}`);
}

/**
 * Writes a safetensors file. Like the reference implementation, tensors are laid out by element
 * size (largest first) then name so every tensor stays aligned, and the header is padded with
 * spaces to a multiple of 8 bytes.
 */
export function serializeSafetensors(
  tensors: Record<string, SerializableTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const ordered = Object.entries(tensors).sort(
    ([nameA, a], [nameB, b]) =>
      DTYPE_BYTE_SIZES[b.dtype] - DTYPE_BYTE_SIZES[a.dtype] || (nameA < nameB ? -1 : nameA > nameB ? 1 : 0),
  );

  const headerEntries: [string, unknown][] = metadata ? [['__metadata__', metadata]] : [];
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of ordered) {
    if (name === '__metadata__') throw new CheckpointError('serializeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    const payload = encodeTensor(name, tensor);
    const expectedBytes = tensor.shape.reduce((product, dim) => product * dim, 1) * DTYPE_BYTE_SIZES[tensor.dtype];
    if (payload.byteLength !== expectedBytes) {
      throw new CheckpointError(
        `serializeSafetensors: tensor "${name}" has ${payload.byteLength / DTYPE_BYTE_SIZES[tensor.dtype]} values, shape [${tensor.shape.join(', ')}] needs ${expectedBytes / DTYPE_BYTE_SIZES[tensor.dtype]}`,
      );
    }
    headerEntries.push([name, { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + payload.byteLength] }]);
    payloads.push(payload);
    offset += payload.byteLength;
  }

  const headerJson = new TextEncoder().encode(JSON.stringify(Object.fromEntries(headerEntries)));
  const paddedHeaderLength = Math.ceil(headerJson.byteLength / 8) * 8;
  const out = new Uint8Array(8 + paddedHeaderLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(paddedHeaderLength), true);
  out.set(headerJson, 8);
  out.fill(0x20, 8 + headerJson.byteLength, 8 + paddedHeaderLength);
  let cursor = 8 + paddedHeaderLength;
  for (const payload of payloads) {
    out.set(payload, cursor);
    cursor += payload.byteLength;
  }
  return out;
}
