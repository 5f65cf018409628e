// Architecture-neutral checkpoint table machinery: each src/models/<arch>.ts lists the tensors it
// reads (Hub name -> expected shape, with the config fields the shape comes from), and these
// helpers check every one (presence, shape, float dtype) before any is converted.
import { CheckpointError } from './errors';

/** Read access to the tensors of one or several safetensors files. */
export interface TensorLookup {
  /** Names the file(s) searched, for messages about tensors that are absent. */
  label: string;
  has(name: string): boolean;
  shapeOf(name: string): number[];
  dtypeOf(name: string): string;
  fileOf(name: string): string;
  /** Reads and converts the tensor now (a fresh array each call: nothing is cached). */
  toFloat32(name: string): Float32Array;
  /** Releases open files. */
  close?(): void;
}

/** One tensor an architecture reads. */
export interface TensorSpec {
  name: string;
  shape: number[];
  /** The config fields the expected shape comes from, for error messages, e.g. "hidden_size=768". */
  because: string[];
  /** Appended to "missing" errors, e.g. a layer count hint. */
  missingHint?: string;
}

export const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16', 'F64']);

export function checkTensor(lookup: TensorLookup, spec: TensorSpec): void {
  const { name, shape } = spec;
  if (!lookup.has(name)) throw new CheckpointError(`${lookup.label}: tensor ${name} is missing${spec.missingHint ?? ''}`);
  const file = lookup.fileOf(name);
  const actual = lookup.shapeOf(name);
  if (actual.length !== shape.length || actual.some((size, axis) => size !== shape[axis])) {
    const because = spec.because.length > 0 ? ` (from config.json ${spec.because.join(', ')})` : '';
    throw new CheckpointError(`${file}: tensor ${name} has shape [${actual.join(',')}], expected [${shape.join(',')}]${because}`);
  }
  const dtype = lookup.dtypeOf(name);
  if (!FLOAT_DTYPES.has(dtype)) {
    throw new CheckpointError(`${file}: tensor ${name} has dtype ${dtype}, expected a float dtype (F32, F16, BF16, F64)`);
  }
}

export function checkTensors(lookup: TensorLookup, specs: Iterable<TensorSpec>): void {
  for (const spec of specs) checkTensor(lookup, spec);
}

/** Number of tensors per stored dtype among `names`, e.g. { F16: 26 }. */
export function countDtypes(lookup: TensorLookup, names: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) {
    const dtype = lookup.dtypeOf(name);
    counts[dtype] = (counts[dtype] ?? 0) + 1;
  }
  return counts;
}

/** The first of `names` the checkpoint has (prefix variants of one tensor), or null. */
export function firstPresent(lookup: TensorLookup, names: readonly string[]): string | null {
  return names.find((name) => lookup.has(name)) ?? null;
}

/** Element count of every array, for parameter counts. */
export function totalLength(arrays: Iterable<ArrayLike<number> | null | undefined>): number {
  let total = 0;
  for (const a of arrays) total += a?.length ?? 0;
  return total;
}

/**
 * An object whose properties read their tensor when first touched (and keep nothing): how the
 * architectures hand weights to createModel, which uploads each as it reads it, so a checkpoint
 * is converted tensor by tensor instead of held whole in f32.
 */
export function lazyTensors<K extends string>(lookup: TensorLookup, names: Record<K, string>): Record<K, Float32Array> {
  const out = {} as Record<K, Float32Array>;
  for (const key of Object.keys(names) as K[]) {
    Object.defineProperty(out, key, { enumerable: true, get: () => lookup.toFloat32(names[key]) });
  }
  return out;
}

/** Total element count of the named tensors, from their shapes (reads no data). */
export function elementsOf(lookup: TensorLookup, names: Iterable<string>): number {
  let total = 0;
  for (const name of new Set(names)) total += lookup.shapeOf(name).reduce((a, b) => a * b, 1);
  return total;
}
