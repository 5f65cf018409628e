// NeoBERT hyper-parameters read from a Hugging Face Hub config.json.

import { CheckpointError } from './errors';

export interface NeoBERTConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  /** As written in config.json; NOT the FFN width (see ffnWidth). */
  intermediateSize: number;
  /** Width of the SwiGLU hidden layer actually stored in w12/w3. */
  ffnWidth: number;
  vocabSize: number;
  /** Length of the RoPE table, i.e. the longest sequence the model accepts. */
  maxLength: number;
  normEps: number;
  padTokenId: number;
  ropeTheta: number;
  /** Set only for NeoBERTForSequenceClassification. */
  numLabels: number | null;
  /** Label names by class index, from config.json id2label; null when absent (or not a classifier). */
  id2label: string[] | null;
  architectures: string[];
}

/** Hard-coded in the reference implementation; config.json has no field for it. */
export const NEOBERT_ROPE_THETA = 10000;

export const SEQUENCE_CLASSIFICATION_ARCHITECTURE = 'NeoBERTForSequenceClassification';

/** Hugging Face's default label count when a classification config names none. */
const DEFAULT_NUM_LABELS = 2;

/** config.json of the released chandar-lab/NeoBERT checkpoint (the fields this engine reads). */
export const NEOBERT_BASE_CONFIG_JSON = Object.freeze({
  architectures: ['NeoBERTLMHead'],
  model_type: 'neobert',
  hidden_size: 768,
  num_hidden_layers: 28,
  num_attention_heads: 12,
  dim_head: 64,
  intermediate_size: 3072,
  vocab_size: 30522,
  max_length: 4096,
  norm_eps: 1e-5,
  pad_token_id: 0,
  torch_dtype: 'float32',
});

/** SwiGLU width as the reference code computes it: 8 * ceil(int(2 * intermediate_size / 3) / 8). */
export function ffnWidthFor(intermediateSize: number): number {
  return 8 * Math.ceil(Math.floor((2 * intermediateSize) / 3) / 8);
}

export function parseConfig(json: unknown, source: string): NeoBERTConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CheckpointError(`${source}: expected a JSON object`);
  }
  const fields = json as Record<string, unknown>;
  const fail = (message: string): never => {
    throw new CheckpointError(`${source}: ${message}`);
  };
  const integerField = (field: string, minimum: number): number => {
    const value = fields[field];
    if (value === undefined) return fail(`${field} is missing`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
      return fail(`${field} must be an integer >= ${minimum}, got ${JSON.stringify(value)}`);
    }
    return value;
  };

  const modelType = fields['model_type'];
  if (modelType !== undefined && modelType !== 'neobert') {
    fail(`model_type is ${JSON.stringify(modelType)}, expected "neobert"`);
  }

  const hiddenSize = integerField('hidden_size', 1);
  const numLayers = integerField('num_hidden_layers', 1);
  const numHeads = integerField('num_attention_heads', 1);
  const intermediateSize = integerField('intermediate_size', 1);
  const vocabSize = integerField('vocab_size', 1);
  const maxLength = integerField('max_length', 1);

  const normEps = fields['norm_eps'];
  if (normEps === undefined) fail('norm_eps is missing');
  if (typeof normEps !== 'number' || !Number.isFinite(normEps) || normEps <= 0) {
    fail(`norm_eps must be a number > 0, got ${JSON.stringify(normEps)}`);
  }

  if (hiddenSize % numHeads !== 0) {
    fail(`hidden_size=${hiddenSize} is not divisible by num_attention_heads=${numHeads}`);
  }
  const headDim = hiddenSize / numHeads;
  if (fields['dim_head'] !== undefined && fields['dim_head'] !== headDim) {
    fail(`dim_head=${JSON.stringify(fields['dim_head'])} does not match hidden_size/num_attention_heads=${headDim}`);
  }
  if (headDim % 2 !== 0) fail(`head dim ${headDim} (hidden_size/num_attention_heads) is odd; RoPE rotates channel pairs`);
  if (headDim % 4 !== 0) fail(`head dim ${headDim} (hidden_size/num_attention_heads) is not a multiple of 4; kernels read vec4`);

  const ffnWidth = ffnWidthFor(intermediateSize);
  if (ffnWidth < 1) fail(`intermediate_size=${intermediateSize} gives an FFN width of 0`);

  // Used only to pad batches; the bert-base-uncased [PAD] id when absent.
  const padTokenId = fields['pad_token_id'] ?? 0;
  if (typeof padTokenId !== 'number' || !Number.isSafeInteger(padTokenId) || padTokenId < 0 || padTokenId >= vocabSize) {
    fail(`pad_token_id must be an integer in [0, vocab_size=${vocabSize}), got ${JSON.stringify(padTokenId)}`);
  }

  const architectures = fields['architectures'] ?? [];
  if (!Array.isArray(architectures) || !architectures.every((name) => typeof name === 'string')) {
    fail(`architectures must be an array of strings, got ${JSON.stringify(architectures)}`);
  }

  return {
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    intermediateSize,
    ffnWidth,
    vocabSize,
    maxLength,
    normEps: normEps as number,
    padTokenId: padTokenId as number,
    ropeTheta: NEOBERT_ROPE_THETA,
    ...parseLabels((architectures as string[]).includes(SEQUENCE_CLASSIFICATION_ARCHITECTURE), fields, fail),
    architectures: [...(architectures as string[])],
  };
}

function parseLabels(
  isClassifier: boolean,
  fields: Record<string, unknown>,
  fail: (message: string) => never,
): { numLabels: number | null; id2label: string[] | null } {
  if (!isClassifier) return { numLabels: null, id2label: null };
  const numLabels = parseNumLabels(fields, fail);
  const id2label = fields['id2label'] as Record<string, unknown> | undefined;
  if (id2label === undefined) return { numLabels, id2label: null };
  // JSON object keys are strings: "0".."n-1", each naming one class.
  const names = new Array<string>(numLabels);
  for (const [key, name] of Object.entries(id2label)) {
    const index = Number(key);
    if (!/^\d+$/.test(key) || index >= numLabels) fail(`id2label key ${JSON.stringify(key)} is not a class index in [0, ${numLabels})`);
    if (typeof name !== 'string') fail(`id2label[${key}] must be a string, got ${JSON.stringify(name)}`);
    names[index] = name as string;
  }
  for (let i = 0; i < numLabels; i++) if (names[i] === undefined) fail(`id2label has no name for class ${i}`);
  return { numLabels, id2label: names };
}

function parseNumLabels(fields: Record<string, unknown>, fail: (message: string) => never): number {
  const numLabels = fields['num_labels'];
  if (numLabels !== undefined && (typeof numLabels !== 'number' || !Number.isSafeInteger(numLabels) || numLabels < 1)) {
    fail(`num_labels must be an integer >= 1, got ${JSON.stringify(numLabels)}`);
  }
  const id2label = fields['id2label'];
  if (id2label !== undefined && (typeof id2label !== 'object' || id2label === null || Array.isArray(id2label))) {
    fail(`id2label must be a JSON object, got ${JSON.stringify(id2label)}`);
  }
  const labelNames = id2label === undefined ? undefined : Object.keys(id2label as object).length;
  if (labelNames === 0) fail('id2label is empty');
  if (numLabels !== undefined && labelNames !== undefined && numLabels !== labelNames) {
    fail(`num_labels=${numLabels} disagrees with id2label, which has ${labelNames} entries`);
  }
  return (numLabels as number | undefined) ?? labelNames ?? DEFAULT_NUM_LABELS;
}
