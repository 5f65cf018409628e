// Maps checkpoint tensors to the roles the engine uses, checking every shape against the config.

import type { NeoBERTConfig } from './config';
import { SEQUENCE_CLASSIFICATION_ARCHITECTURE } from './config';
import { CheckpointError } from './errors';

/** Read access to the tensors of one or several safetensors files. */
export interface TensorLookup {
  /** Names the file(s) searched, for messages about tensors that are absent. */
  label: string;
  has(name: string): boolean;
  shapeOf(name: string): number[];
  dtypeOf(name: string): string;
  fileOf(name: string): string;
  toFloat32(name: string): Float32Array;
}

/** Linear weights are row-major [out, in] as stored: y = x @ W^T. */
export interface LayerWeights {
  attentionNorm: Float32Array; // [C]
  qkv: Float32Array; // [3C, C], per-head interleaved q|k|v
  wo: Float32Array; // [C, C]
  ffnNorm: Float32Array; // [C]
  w12: Float32Array; // [2F, C], rows [0,F) gate, [F,2F) up
  w3: Float32Array; // [C, F]
}

export type HeadWeights =
  | { kind: 'none' }
  | { kind: 'mlm'; weight: Float32Array /* [V, C] */; bias: Float32Array /* [V] */ }
  | {
      kind: 'classification';
      denseWeight: Float32Array; // [C, C]
      denseBias: Float32Array; // [C]
      weight: Float32Array; // [labels, C]
      bias: Float32Array; // [labels]
    };

export type HeadKind = HeadWeights['kind'];

export interface NeoBERTWeights {
  embedding: Float32Array; // [V, C]
  layers: LayerWeights[];
  finalNorm: Float32Array; // [C]
  head: HeadWeights;
}

/** Symbolic dimensions, resolved from the config in `resolveDimension`. */
type Dimension = 'vocab' | 'hidden' | 'threeHidden' | 'ffn' | 'twoFfn' | 'labels';

interface TensorTemplate {
  /** `{i}` stands for the layer index. */
  name: string;
  shape: readonly Dimension[];
}

/**
 * Every tensor the engine reads. Encoder and layer names take the layout prefix ("model." in
 * NeoBERTLMHead / NeoBERTForSequenceClassification exports, "" in encoder-only NeoBERT exports);
 * head names are always top-level.
 */
const TENSOR_TABLE = {
  encoder: {
    embedding: { name: 'encoder.weight', shape: ['vocab', 'hidden'] },
    finalNorm: { name: 'layer_norm.weight', shape: ['hidden'] },
  },
  layer: {
    attentionNorm: { name: 'transformer_encoder.{i}.attention_norm.weight', shape: ['hidden'] },
    qkv: { name: 'transformer_encoder.{i}.qkv.weight', shape: ['threeHidden', 'hidden'] },
    wo: { name: 'transformer_encoder.{i}.wo.weight', shape: ['hidden', 'hidden'] },
    ffnNorm: { name: 'transformer_encoder.{i}.ffn_norm.weight', shape: ['hidden'] },
    w12: { name: 'transformer_encoder.{i}.ffn.w12.weight', shape: ['twoFfn', 'hidden'] },
    w3: { name: 'transformer_encoder.{i}.ffn.w3.weight', shape: ['hidden', 'ffn'] },
  },
  mlm: {
    weight: { name: 'decoder.weight', shape: ['vocab', 'hidden'] },
    bias: { name: 'decoder.bias', shape: ['vocab'] },
  },
  classification: {
    denseWeight: { name: 'dense.weight', shape: ['hidden', 'hidden'] },
    denseBias: { name: 'dense.bias', shape: ['hidden'] },
    weight: { name: 'classifier.weight', shape: ['labels', 'hidden'] },
    bias: { name: 'classifier.bias', shape: ['labels'] },
  },
} as const satisfies Record<string, Record<string, TensorTemplate>>;

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

interface PlannedTensor {
  name: string;
  shape: number[];
  /** The config fields the expected shape comes from, for error messages. */
  because: string[];
  /** Appended to "missing" errors, e.g. a layer count hint. */
  missingHint: string;
}

interface TensorPlan {
  encoder: { [Role in keyof typeof TENSOR_TABLE.encoder]: PlannedTensor };
  layers: { [Role in keyof LayerWeights]: PlannedTensor }[];
  head:
    | { kind: 'none' }
    | { kind: 'mlm'; tensors: { [Role in keyof typeof TENSOR_TABLE.mlm]: PlannedTensor } }
    | { kind: 'classification'; tensors: { [Role in keyof typeof TENSOR_TABLE.classification]: PlannedTensor } };
}

function resolveDimension(config: NeoBERTConfig, dimension: Dimension): { size: number; because: string } {
  const hidden = `hidden_size=${config.hiddenSize}`;
  const ffn = `intermediate_size=${config.intermediateSize} (FFN width ${config.ffnWidth})`;
  switch (dimension) {
    case 'vocab': return { size: config.vocabSize, because: `vocab_size=${config.vocabSize}` };
    case 'hidden': return { size: config.hiddenSize, because: hidden };
    case 'threeHidden': return { size: 3 * config.hiddenSize, because: hidden };
    case 'ffn': return { size: config.ffnWidth, because: ffn };
    case 'twoFfn': return { size: 2 * config.ffnWidth, because: ffn };
    case 'labels': return { size: config.numLabels ?? 0, because: `num_labels=${config.numLabels}` };
  }
}

function planSection<Role extends string>(
  section: Record<Role, TensorTemplate>,
  config: NeoBERTConfig,
  prefix: string,
  layer: number | null,
): Record<Role, PlannedTensor> {
  const planned = {} as Record<Role, PlannedTensor>;
  for (const role of Object.keys(section) as Role[]) {
    const template = section[role];
    const dimensions = template.shape.map((dimension) => resolveDimension(config, dimension));
    planned[role] = {
      name: prefix + template.name.replace('{i}', String(layer)),
      shape: dimensions.map((dimension) => dimension.size),
      because: [...new Set(dimensions.map((dimension) => dimension.because))],
      missingHint: layer === null ? '' : ` (config.json num_hidden_layers=${config.numLayers})`,
    };
  }
  return planned;
}

function detectPrefix(lookup: TensorLookup): string {
  if (lookup.has('model.encoder.weight')) return 'model.';
  if (lookup.has('encoder.weight')) return '';
  throw new CheckpointError(
    `${lookup.label}: no token embedding (neither model.encoder.weight nor encoder.weight); is this a NeoBERT checkpoint?`,
  );
}

function detectHead(config: NeoBERTConfig, lookup: TensorLookup): HeadKind {
  // The config decides for classification: the label count must come from it, and a missing
  // classifier then surfaces as a missing-tensor error.
  if (config.numLabels !== null) return 'classification';
  if (lookup.has(TENSOR_TABLE.mlm.weight.name)) return 'mlm';
  const classifier = TENSOR_TABLE.classification.weight.name;
  if (lookup.has(classifier)) {
    throw new CheckpointError(
      `${lookup.fileOf(classifier)}: has ${classifier} but config.json architectures ${JSON.stringify(config.architectures)} do not include ${SEQUENCE_CLASSIFICATION_ARCHITECTURE}, so the label count is unknown`,
    );
  }
  return 'none';
}

function planTensors(config: NeoBERTConfig, lookup: TensorLookup): TensorPlan {
  const prefix = detectPrefix(lookup);
  const extraLayer = `${prefix}transformer_encoder.${config.numLayers}.qkv.weight`;
  if (lookup.has(extraLayer)) {
    throw new CheckpointError(
      `${lookup.fileOf(extraLayer)}: has tensor ${extraLayer}, more layers than config.json num_hidden_layers=${config.numLayers}`,
    );
  }
  const layers = Array.from({ length: config.numLayers }, (_, layer) => planSection(TENSOR_TABLE.layer, config, prefix, layer));
  const encoder = planSection(TENSOR_TABLE.encoder, config, prefix, null);
  const kind = detectHead(config, lookup);
  const head: TensorPlan['head'] =
    kind === 'mlm' ? { kind, tensors: planSection(TENSOR_TABLE.mlm, config, '', null) }
    : kind === 'classification' ? { kind, tensors: planSection(TENSOR_TABLE.classification, config, '', null) }
    : { kind };
  return { encoder, layers, head };
}

function allPlanned(plan: TensorPlan): PlannedTensor[] {
  const headTensors = plan.head.kind === 'none' ? [] : Object.values<PlannedTensor>(plan.head.tensors);
  return [...Object.values(plan.encoder), ...plan.layers.flatMap((layer) => Object.values(layer)), ...headTensors];
}

function checkTensor(lookup: TensorLookup, tensor: PlannedTensor): void {
  const { name, shape } = tensor;
  if (!lookup.has(name)) throw new CheckpointError(`${lookup.label}: tensor ${name} is missing${tensor.missingHint}`);
  const file = lookup.fileOf(name);
  const actual = lookup.shapeOf(name);
  if (actual.length !== shape.length || actual.some((size, axis) => size !== shape[axis])) {
    throw new CheckpointError(
      `${file}: tensor ${name} has shape [${actual.join(',')}], expected [${shape.join(',')}] (from config.json ${tensor.because.join(', ')})`,
    );
  }
  const dtype = lookup.dtypeOf(name);
  if (!FLOAT_DTYPES.has(dtype)) {
    throw new CheckpointError(`${file}: tensor ${name} has dtype ${dtype}, expected a float dtype (F32, F16, BF16, F64)`);
  }
}

function loadSection<Role extends string>(lookup: TensorLookup, section: Record<Role, PlannedTensor>): Record<Role, Float32Array> {
  const loaded = {} as Record<Role, Float32Array>;
  for (const role of Object.keys(section) as Role[]) loaded[role] = lookup.toFloat32(section[role].name);
  return loaded;
}

/** Validates every tensor (presence, shape, dtype) before converting any, then converts all to f32. */
export function buildWeights(config: NeoBERTConfig, lookup: TensorLookup): NeoBERTWeights {
  const plan = planTensors(config, lookup);
  for (const tensor of allPlanned(plan)) checkTensor(lookup, tensor);

  const encoder = loadSection(lookup, plan.encoder);
  const layers = plan.layers.map((layer) => loadSection(lookup, layer));
  let head: HeadWeights;
  switch (plan.head.kind) {
    case 'none': head = { kind: 'none' }; break;
    case 'mlm': head = { kind: 'mlm', ...loadSection(lookup, plan.head.tensors) }; break;
    case 'classification': head = { kind: 'classification', ...loadSection(lookup, plan.head.tensors) }; break;
  }
  return { embedding: encoder.embedding, layers, finalNorm: encoder.finalNorm, head };
}

/** Number of tensors per stored dtype among the tensors the engine reads, e.g. { F16: 26 }; call after buildWeights succeeded. */
export function summarizeDtypes(config: NeoBERTConfig, lookup: TensorLookup): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { name } of allPlanned(planTensors(config, lookup))) {
    const dtype = lookup.dtypeOf(name);
    counts[dtype] = (counts[dtype] ?? 0) + 1;
  }
  return counts;
}

export function parameterCount(weights: NeoBERTWeights): number {
  const arrays: Float32Array[] = [weights.embedding, weights.finalNorm, ...weights.layers.flatMap((layer) => Object.values(layer))];
  const { head } = weights;
  if (head.kind === 'mlm') arrays.push(head.weight, head.bias);
  if (head.kind === 'classification') arrays.push(head.denseWeight, head.denseBias, head.weight, head.bias);
  return arrays.reduce((total, array) => total + array.length, 0);
}
