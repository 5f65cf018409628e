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

// ---------------------------------------------------------------------------------------------
// Shared checkpoint-table helpers: what every src/models/<arch>.ts table is made of.

/** A table entry: `name` must have `shape` (from the config fields in `because`). */
export function tensorSpec(name: string, shape: number[], because: string[], missingHint = ''): TensorSpec {
  return { name, shape, because, missingHint };
}

/** A Linear layer's weight [out, in] and (unless `bias` is false) bias [out], named `${base}.weight` / `${base}.bias`. */
export function linearSpec(base: string, out: number, inp: number, because: string[], options: { bias?: boolean; hint?: string } = {}): { weight: TensorSpec; bias: TensorSpec | null } {
  const hint = options.hint ?? '';
  return {
    weight: tensorSpec(`${base}.weight`, [out, inp], because, hint),
    bias: options.bias === false ? null : tensorSpec(`${base}.bias`, [out], because, hint),
  };
}

/**
 * A norm's gain [width] and (unless `bias` is false) bias, under either spelling the checkpoint
 * uses: `.weight` / `.bias`, or `.gamma` / `.beta` of older BERT exports.
 */
export function normSpec(lookup: TensorLookup, base: string, width: number, because: string[], options: { bias?: boolean; hint?: string } = {}): { weight: TensorSpec; bias: TensorSpec | null } {
  const legacy = lookup.has(`${base}.gamma`) && !lookup.has(`${base}.weight`);
  const hint = options.hint ?? '';
  return {
    weight: tensorSpec(legacy ? `${base}.gamma` : `${base}.weight`, [width], because, hint),
    bias: options.bias === false ? null : tensorSpec(legacy ? `${base}.beta` : `${base}.bias`, [width], because, hint),
  };
}

/**
 * The first of `prefixes` under which the checkpoint has `probe` (e.g. "embeddings.word_embeddings.weight"
 * under "", "bert.", ...); otherwise a CheckpointError saying what was looked for.
 */
export function detectPrefix(lookup: TensorLookup, prefixes: readonly string[], probe: string, what: string): string {
  const prefix = prefixes.find((p) => lookup.has(`${p}${probe}`));
  if (prefix === undefined) {
    const names = prefixes.map((p) => `${p}${probe}`).join(' / ');
    throw new CheckpointError(`${lookup.label}: no ${names}; is this a ${what} checkpoint?`);
  }
  return prefix;
}

/** Fails when the checkpoint has layer `numLayers` (`layerTensor(numLayers)`): more layers than config.json says. */
export function checkNoExtraLayer(lookup: TensorLookup, layerTensor: (layer: number) => string, numLayers: number): void {
  const extra = layerTensor(numLayers);
  if (lookup.has(extra)) throw new CheckpointError(`${lookup.fileOf(extra)}: has tensor ${extra}, more layers than config.json num_hidden_layers=${numLayers}`);
}

/**
 * Which head a checkpoint has. The config decides for classification (the label count comes
 * from it, and a missing classifier is then a missing-tensor error); an MLM head when every name
 * of one of `mlm`'s groups is present; a classifier tensor (`classifier`) without a label count
 * is an error naming `expectedArchitecture`.
 */
export function detectHead(
  config: { numLabels: number | null; architectures: string[] },
  lookup: TensorLookup,
  heads: { mlm: readonly (readonly string[])[]; classifier: readonly string[]; expectedArchitecture?: string },
): 'none' | 'mlm' | 'classification' {
  if (config.numLabels !== null) return 'classification';
  if (heads.mlm.some((group) => group.every((name) => lookup.has(name)))) return 'mlm';
  const classifier = firstPresent(lookup, heads.classifier);
  if (classifier) {
    const expected = heads.expectedArchitecture ? `do not include ${heads.expectedArchitecture}` : 'name no *ForSequenceClassification';
    throw new CheckpointError(`${lookup.fileOf(classifier)}: has ${classifier} but config.json architectures ${JSON.stringify(config.architectures)} ${expected}, so the label count is unknown`);
  }
  return 'none';
}

/**
 * A section of a table (role -> spec, or null for an absent optional tensor) as lazy f32
 * properties (see lazyTensors); null specs read as null.
 */
export function lazySection<T extends Record<string, TensorSpec | null>>(lookup: TensorLookup, section: T): { [K in keyof T]: T[K] extends TensorSpec ? Float32Array : Float32Array | null } {
  const present = Object.entries(section).filter(([, spec]) => spec !== null) as [string, TensorSpec][];
  const out = lazyTensors(lookup, Object.fromEntries(present.map(([role, spec]) => [role, spec.name])));
  for (const [role, spec] of Object.entries(section)) if (spec === null) Object.defineProperty(out, role, { enumerable: true, value: null });
  return out as { [K in keyof T]: T[K] extends TensorSpec ? Float32Array : Float32Array | null };
}

/** Every spec of a nested table (objects, arrays, nulls), in order. */
export function specsOf(table: unknown): TensorSpec[] {
  if (table === null || typeof table !== 'object') return [];
  if ('name' in table && 'shape' in table && 'because' in table) return [table as TensorSpec];
  return Object.values(table as Record<string, unknown>).flatMap(specsOf);
}

/** Checks every spec (presence, shape, dtype) before any is converted; returns what info() reports. */
export function checkTable(lookup: TensorLookup, specs: readonly TensorSpec[]): { dtypes: Record<string, number>; parameterCount: number } {
  checkTensors(lookup, specs);
  const names = [...new Set(specs.map((s) => s.name))];
  return { dtypes: countDtypes(lookup, names), parameterCount: elementsOf(lookup, names) };
}
