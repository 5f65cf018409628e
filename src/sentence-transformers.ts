// sentence-transformers folders, read as sentence-transformers 6.0.0 reads them (the behaviour
// and its file:line are in ../shared/fixtures/sentence-transformers/README.md): modules.json's
// chain (Transformer, Pooling, any number of Dense, Normalize), 1_Pooling/config.json in both
// formats, N_Dense/{config.json, model.safetensors}, sentence_bert_config.json,
// config_sentence_transformers.json (prompts, truncate_dim, similarity_fn_name, a CrossEncoder's
// activation_fn) and config.json's cross-encoder activation keys. Every module of the folder is
// either applied or refused with a CheckpointError naming its file and field; none is skipped.
import { CheckpointError } from './errors';
import type { CheckpointSource } from './sources/types';
import { parseSafetensors } from './safetensors';
import type { MatmulActivation, SentencePoolingMode } from './kernels';

export type { SentencePoolingMode };
/** The single CLS / mean pooling of the older API (EmbedOptions.pooling). */
export type SentencePooling = 'cls' | 'mean';

/** SentenceTransformer.similarity's functions (config_sentence_transformers.json similarity_fn_name). */
export type SimilarityFunction = 'cosine' | 'dot' | 'euclidean' | 'manhattan';

export interface PoolingConfig {
  /** The modes, concatenated in this order (old boolean files: ST's fixed order). */
  modes: SentencePoolingMode[];
  /** The transformer's width each mode pools (embedding_dimension / word_embedding_dimension). */
  embeddingDimension: number;
  /** false: the prompt's tokens ([CLS] included) leave the pooling. */
  includePrompt: boolean;
  /** Where it was read, for messages. */
  file: string;
}

export interface DenseConfig {
  /** The module's folder, e.g. "2_Dense". */
  path: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  /** activation_function as written, and the matmul epilogue it maps to. */
  activationFunction: string;
  activation: MatmulActivation;
}

/** A Dense module's weights (host copies, dropped once uploaded). */
export interface DenseWeights {
  weight: Float32Array; // [out, in]
  bias: Float32Array | null; // [out]
}

/** After Pooling, in modules.json order. */
export type SentenceStep = ({ kind: 'dense' } & DenseConfig) | { kind: 'normalize'; path: string };

export interface SentenceTransformersConfig {
  /** config_sentence_transformers.json model_type ("SentenceTransformer", "CrossEncoder"), when written. */
  modelType: string | null;
  /** The Pooling module; null for a folder without one (a v6 CrossEncoder lists only its Transformer). */
  pooling: PoolingConfig | null;
  /** Dense and Normalize modules after the Pooling, in modules.json order. */
  steps: SentenceStep[];
  /** Whether modules.json lists a Normalize module (its folder may be absent, as on the Hub). */
  normalize: boolean;
  /** Width of sentence_embedding after every module (before truncation). */
  dimension: number | null;
  /** sentence_bert_config.json max_seq_length, when given. */
  maxSeqLength: number | null;
  /** Named prompts (e5: { query: 'query: ', passage: 'passage: ' }). */
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  /** config_sentence_transformers.json truncate_dim (Matryoshka), when set. */
  truncateDim: number | null;
  similarity: SimilarityFunction;
  /** A v5.4+ CrossEncoder's config_sentence_transformers.json activation_fn, when written. */
  activationFn: string | null;
}

/** The folder's modules and the Dense weights (kept apart so info() never carries arrays). */
export interface SentenceTransformersFolder {
  config: SentenceTransformersConfig;
  dense: DenseWeights[];
}

interface Module {
  path: string;
  type: string;
}

/** Old 1_Pooling booleans, in the order sentence-transformers turns them into modes (pooling.py:16-43). */
const OLD_POOLING_KEYS: [string, SentencePoolingMode][] = [
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len_tokens'],
  ['pooling_mode_weightedmean_tokens', 'weightedmean'],
  ['pooling_mode_lasttoken', 'lasttoken'],
];
const POOLING_MODES: readonly SentencePoolingMode[] = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'];

/** torch activation classes a Dense module may name, and the matmul epilogue of each. */
const TORCH_ACTIVATIONS: Record<string, MatmulActivation> = {
  'torch.nn.modules.linear.Identity': 'none',
  'torch.nn.Identity': 'none',
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.Tanh': 'tanh',
  'torch.nn.modules.activation.ReLU': 'relu',
  'torch.nn.ReLU': 'relu',
  'torch.nn.modules.activation.GELU': 'gelu',
  'torch.nn.GELU': 'gelu',
  'torch.nn.modules.activation.SiLU': 'silu',
  'torch.nn.SiLU': 'silu',
};

const SIMILARITIES: readonly SimilarityFunction[] = ['cosine', 'dot', 'euclidean', 'manhattan'];
/** Older names sentence-transformers still accepts (SimilarityFunction.possible_values). */
const SIMILARITY_ALIASES: Record<string, SimilarityFunction> = { cos_sim: 'cosine', dot_score: 'dot', euclidean_sim: 'euclidean', manhattan_sim: 'manhattan' };

/** Reads the folder's sentence-transformers modules; null when it has no modules.json. */
export async function readSentenceTransformers(source: CheckpointSource, where: (file: string) => string): Promise<SentenceTransformersFolder | null> {
  const modulesText = await source.readText('modules.json');
  if (modulesText === null) return null;
  const modulesFile = where('modules.json');
  const modules = parseJsonFile(modulesText, modulesFile);
  if (!Array.isArray(modules) || !modules.every((m) => typeof m?.type === 'string' && typeof (m?.path ?? '') === 'string')) {
    throw new CheckpointError(`${modulesFile}: expected a list of {"path", "type"} modules`);
  }
  const list = (modules as Module[]).map((m) => ({ type: m.type, path: (m.path ?? '').replace(/^\.\//, '').replace(/\/$/, '') }));
  let pooling: PoolingConfig | null = null;
  const steps: SentenceStep[] = [];
  const dense: DenseWeights[] = [];
  for (const [index, module] of list.entries()) {
    const kind = moduleKind(module.type);
    const at = `${modulesFile}: module ${index} (${module.type} at "${module.path}")`;
    if (kind === 'transformer') {
      if (index !== 0) throw new CheckpointError(`${at}: the Transformer must be the first module`);
      if (module.path !== '') throw new CheckpointError(`${at}: this engine reads the transformer from the folder itself (path ""), not from a sub-folder`);
    } else if (index === 0) {
      throw new CheckpointError(`${at}: the first module must be the Transformer`);
    } else if (kind === 'pooling') {
      if (pooling || steps.length > 0) throw new CheckpointError(`${at}: one Pooling module, directly after the Transformer, is all this engine applies`);
      pooling = await readPooling(source, module.path, where);
    } else if (kind === 'dense' || kind === 'normalize') {
      if (!pooling) throw new CheckpointError(`${at}: a ${kind === 'dense' ? 'Dense' : 'Normalize'} module before any Pooling works on token embeddings, which this engine does not apply`);
      if (kind === 'normalize') steps.push({ kind: 'normalize', path: module.path });
      else steps.push({ kind: 'dense', ...(await readDense(source, module.path, where)) });
    } else {
      throw new CheckpointError(`${at}: this engine applies Transformer, Pooling, Dense and Normalize modules only, so it cannot give what sentence-transformers gives for this folder`);
    }
  }
  // Widths must chain: Pooling's output into each Dense's in_features in turn.
  let dimension: number | null = pooling ? pooling.modes.length * pooling.embeddingDimension : null;
  for (const step of steps) {
    if (step.kind !== 'dense') continue;
    if (step.inFeatures !== dimension) {
      throw new CheckpointError(
        `${where(`${step.path}/config.json`)}: in_features is ${step.inFeatures}, but the module before it gives ${dimension} values (${pooling!.modes.length} pooling mode(s) x ${pooling!.embeddingDimension}, then the Dense modules before it)`,
      );
    }
    dimension = step.outFeatures;
  }
  // Weights last: a folder whose shapes do not chain fails on its config before any download.
  for (const step of steps) if (step.kind === 'dense') dense.push(await readDenseWeights(source, step, where));

  const bertConfigText = await source.readText('sentence_bert_config.json');
  let maxSeqLength: number | null = null;
  if (bertConfigText !== null) {
    const value = (parseJsonFile(bertConfigText, where('sentence_bert_config.json')) as { max_seq_length?: unknown })?.max_seq_length;
    if (value !== undefined && value !== null) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new CheckpointError(`${where('sentence_bert_config.json')}: max_seq_length must be a positive integer, got ${JSON.stringify(value)}`);
      }
      maxSeqLength = value;
    }
  }
  const st = await readStConfig(source, where);
  if (st.truncateDim !== null && dimension !== null && st.truncateDim > dimension) {
    throw new CheckpointError(`${where('config_sentence_transformers.json')}: truncate_dim is ${st.truncateDim}, above the embedding width ${dimension}`);
  }
  return {
    config: { ...st, pooling, steps, normalize: steps.some((s) => s.kind === 'normalize'), dimension, maxSeqLength },
    dense,
  };
}

/** config_sentence_transformers.json's fields (all optional; the file may be absent). */
async function readStConfig(source: CheckpointSource, where: (file: string) => string) {
  const text = await source.readText('config_sentence_transformers.json');
  const prompts: Record<string, string> = {};
  let defaultPromptName: string | null = null;
  let truncateDim: number | null = null;
  let similarity: SimilarityFunction = 'cosine';
  let activationFn: string | null = null;
  let modelType: string | null = null;
  if (text !== null) {
    const file = where('config_sentence_transformers.json');
    const st = parseJsonFile(text, file) as Record<string, unknown>;
    if (typeof st !== 'object' || st === null || Array.isArray(st)) throw new CheckpointError(`${file}: expected a JSON object`);
    if (st.prompts !== undefined && st.prompts !== null) {
      if (typeof st.prompts !== 'object' || Array.isArray(st.prompts)) throw new CheckpointError(`${file}: prompts must be an object of name -> text`);
      for (const [name, prompt] of Object.entries(st.prompts as Record<string, unknown>)) {
        if (typeof prompt !== 'string') throw new CheckpointError(`${file}: prompt ${JSON.stringify(name)} must be a string`);
        prompts[name] = prompt;
      }
    }
    if (st.default_prompt_name !== undefined && st.default_prompt_name !== null) {
      if (typeof st.default_prompt_name !== 'string' || !Object.hasOwn(prompts, st.default_prompt_name)) {
        throw new CheckpointError(`${file}: default_prompt_name ${JSON.stringify(st.default_prompt_name)} is not one of its prompts`);
      }
      defaultPromptName = st.default_prompt_name;
    }
    if (st.truncate_dim !== undefined && st.truncate_dim !== null) {
      if (typeof st.truncate_dim !== 'number' || !Number.isInteger(st.truncate_dim) || st.truncate_dim < 1) {
        throw new CheckpointError(`${file}: truncate_dim must be a positive integer, got ${JSON.stringify(st.truncate_dim)}`);
      }
      truncateDim = st.truncate_dim;
    }
    if (st.similarity_fn_name !== undefined && st.similarity_fn_name !== null) {
      const name = String(st.similarity_fn_name);
      const fn = (SIMILARITIES as readonly string[]).includes(name) ? (name as SimilarityFunction) : SIMILARITY_ALIASES[name];
      if (!fn) throw new CheckpointError(`${file}: similarity_fn_name ${JSON.stringify(st.similarity_fn_name)} is not one of ${SIMILARITIES.join(', ')}`);
      similarity = fn;
    }
    if (st.activation_fn !== undefined && st.activation_fn !== null) {
      if (typeof st.activation_fn !== 'string') throw new CheckpointError(`${file}: activation_fn must be a string (a torch class path), got ${JSON.stringify(st.activation_fn)}`);
      activationFn = st.activation_fn;
    }
    if (typeof st.model_type === 'string') modelType = st.model_type;
  }
  return { prompts, defaultPromptName, truncateDim, similarity, activationFn, modelType };
}

function moduleKind(type: string): 'transformer' | 'pooling' | 'dense' | 'normalize' | null {
  const name = type.split('.').at(-1);
  // The first module is the model itself, whatever class wraps it (jina's custom_st.Transformer):
  // the architecture file runs it. After it, only sentence-transformers' own classes: a
  // remote-code module of the same name may compute something else.
  if (name === 'Transformer') return 'transformer';
  if (!type.startsWith('sentence_transformers.')) return null;
  if (name === 'Pooling') return 'pooling';
  if (name === 'Dense') return 'dense';
  if (name === 'Normalize') return 'normalize';
  return null;
}

async function readPooling(source: CheckpointSource, folder: string, where: (file: string) => string): Promise<PoolingConfig> {
  const name = `${folder}/config.json`;
  const file = where(name);
  const text = await source.readText(name);
  if (text === null) throw new CheckpointError(`${where('modules.json')}: lists a Pooling module at ${folder}, but ${file} is missing`);
  const c = parseJsonFile(text, file) as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new CheckpointError(`${file}: expected a JSON object`);
  let modes: SentencePoolingMode[];
  if (c.pooling_mode !== undefined && c.pooling_mode !== null) {
    // v5.4+: a mode or a list of modes, concatenated in the list's order.
    const given = Array.isArray(c.pooling_mode) ? c.pooling_mode : [c.pooling_mode];
    if (given.length === 0) throw new CheckpointError(`${file}: pooling_mode is an empty list`);
    modes = given.map((mode) => {
      if (typeof mode !== 'string' || !(POOLING_MODES as readonly string[]).includes(mode)) {
        throw new CheckpointError(`${file}: pooling_mode ${JSON.stringify(mode)} is not a pooling mode (one of ${POOLING_MODES.join(', ')})`);
      }
      return mode as SentencePoolingMode;
    });
  } else {
    // Older files: booleans, turned into modes in sentence-transformers' fixed order; none set: mean.
    for (const [key, value] of Object.entries(c)) {
      if (!key.startsWith('pooling_mode_')) continue;
      if (!OLD_POOLING_KEYS.some(([k]) => k === key)) throw new CheckpointError(`${file}: ${key} is not a pooling mode (${OLD_POOLING_KEYS.map(([k]) => k).join(', ')})`);
      if (typeof value !== 'boolean') throw new CheckpointError(`${file}: ${key} must be true or false, got ${JSON.stringify(value)}`);
    }
    modes = OLD_POOLING_KEYS.filter(([key]) => c[key] === true).map(([, mode]) => mode);
    if (modes.length === 0) modes = ['mean'];
  }
  const dimension = c.embedding_dimension ?? c.word_embedding_dimension;
  const field = c.embedding_dimension !== undefined ? 'embedding_dimension' : 'word_embedding_dimension';
  if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1) {
    throw new CheckpointError(`${file}: ${field} must be a positive integer, got ${JSON.stringify(dimension)}`);
  }
  const includePrompt = c.include_prompt ?? true;
  if (typeof includePrompt !== 'boolean') throw new CheckpointError(`${file}: include_prompt must be true or false, got ${JSON.stringify(includePrompt)}`);
  return { modes, embeddingDimension: dimension, includePrompt, file };
}

async function readDense(source: CheckpointSource, folder: string, where: (file: string) => string): Promise<DenseConfig> {
  const name = `${folder}/config.json`;
  const file = where(name);
  const text = await source.readText(name);
  if (text === null) throw new CheckpointError(`${where('modules.json')}: lists a Dense module at ${folder}, but ${file} is missing`);
  const c = parseJsonFile(text, file) as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new CheckpointError(`${file}: expected a JSON object`);
  const size = (field: string): number => {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new CheckpointError(`${file}: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
    // The matmul kernel reads rows 4 values at a time.
    if (v % 4 !== 0) throw new CheckpointError(`${file}: ${field} is ${v}; this engine's matmul needs a multiple of 4`);
    return v;
  };
  const inFeatures = size('in_features');
  const outFeatures = size('out_features');
  const bias = c.bias ?? true;
  if (typeof bias !== 'boolean') throw new CheckpointError(`${file}: bias must be true or false, got ${JSON.stringify(bias)}`);
  const activationFunction = c.activation_function ?? 'torch.nn.modules.activation.Tanh';
  if (typeof activationFunction !== 'string') throw new CheckpointError(`${file}: activation_function must be a string, got ${JSON.stringify(activationFunction)}`);
  if (!activationFunction.startsWith('torch.')) {
    throw new CheckpointError(
      `${file}: activation_function "${activationFunction}" is not a torch path; sentence-transformers would not import it and would apply Tanh instead (with a warning), so this engine refuses the folder rather than guess`,
    );
  }
  const activation = TORCH_ACTIVATIONS[activationFunction];
  if (activation === undefined) {
    throw new CheckpointError(`${file}: activation_function "${activationFunction}" is not supported (supported: ${Object.keys(TORCH_ACTIVATIONS).join(', ')})`);
  }
  for (const field of ['module_input_name', 'module_output_name']) {
    if (c[field] !== undefined && c[field] !== 'sentence_embedding') {
      throw new CheckpointError(`${file}: ${field} is ${JSON.stringify(c[field])}; this engine applies Dense modules to sentence_embedding only`);
    }
  }
  return { path: folder, inFeatures, outFeatures, bias, activationFunction, activation };
}

async function readDenseWeights(source: CheckpointSource, dense: DenseConfig, where: (file: string) => string): Promise<DenseWeights> {
  const { path: folder, inFeatures, outFeatures, bias } = dense;
  const file = where(`${folder}/config.json`);
  const weightsName = `${folder}/model.safetensors`;
  const bytes = await source.readBytes(weightsName);
  if (bytes === null) {
    throw new CheckpointError(
      `${where(weightsName)}: not found; this engine reads Dense weights from safetensors only (a pytorch_model.bin is a Python pickle, which it does not run; convert the folder with sentence-transformers' save() or safetensors' convert)`,
    );
  }
  const tensors = parseSafetensors(bytes, where(weightsName));
  const tensor = (tensorName: string, shape: number[]): Float32Array => {
    if (!tensors.has(tensorName)) throw new CheckpointError(`${where(weightsName)}: tensor ${tensorName} is missing (${file}: ${shape.length === 2 ? 'in_features/out_features' : 'bias true'})`);
    const got = tensors.entry(tensorName).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`${where(weightsName)}: tensor ${tensorName} has shape [${got}], expected [${shape}] (${file}: in_features ${inFeatures}, out_features ${outFeatures})`);
    }
    return tensors.toFloat32(tensorName);
  };
  const weight = tensor('linear.weight', [outFeatures, inFeatures]);
  if (!bias && tensors.has('linear.bias')) throw new CheckpointError(`${where(weightsName)}: has linear.bias but ${file} says bias false`);
  const biasData = bias ? tensor('linear.bias', [outFeatures]) : null;
  return { weight, bias: biasData };
}

// --- cross-encoders ----------------------------------------------------------------------------

/** The activation a CrossEncoder applies to its logits, and where it was configured. */
export interface CrossEncoderActivation {
  activation: 'identity' | 'sigmoid' | 'tanh' | 'relu';
  /** The torch path, as configured (or ST's default). */
  path: string;
  /** Which file and key set it; 'default' = Sigmoid for one label, Identity otherwise. */
  from: string;
  /** config.json problem_type ("multi_label_classification": classify uses a sigmoid per label). */
  problemType: string | null;
}

const CE_ACTIVATIONS: Record<string, CrossEncoderActivation['activation']> = {
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.Identity': 'identity',
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.Sigmoid': 'sigmoid',
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.Tanh': 'tanh',
  'torch.nn.modules.activation.ReLU': 'relu',
  'torch.nn.ReLU': 'relu',
};

/**
 * CrossEncoder's activation choice (cross_encoder/model.py): a v5.4+ folder's
 * config_sentence_transformers.json activation_fn, else config.json
 * sentence_transformers.activation_fn (v4.0-5.3), else the legacy
 * sbert_ce_default_activation_function, else Sigmoid for one label and Identity otherwise.
 */
export function crossEncoderActivation(configJson: Record<string, unknown>, st: SentenceTransformersConfig | null, numLabels: number, where: (file: string) => string): CrossEncoderActivation {
  const problemType = typeof configJson.problem_type === 'string' ? configJson.problem_type : null;
  const nested = (configJson.sentence_transformers as Record<string, unknown> | undefined)?.activation_fn;
  const candidates: [unknown, string][] = [
    [st?.activationFn, `${where('config_sentence_transformers.json')} activation_fn`],
    [nested, `${where('config.json')} sentence_transformers.activation_fn`],
    [configJson.sbert_ce_default_activation_function, `${where('config.json')} sbert_ce_default_activation_function`],
  ];
  for (const [value, from] of candidates) {
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new CheckpointError(`${from}: expected a torch class path, got ${JSON.stringify(value)}`);
    if (!value.startsWith('torch.')) {
      throw new CheckpointError(`${from}: "${value}" is not a torch path; sentence-transformers imports only torch activations, so this engine refuses it rather than guess`);
    }
    const activation = CE_ACTIVATIONS[value];
    if (!activation) throw new CheckpointError(`${from}: activation "${value}" is not supported (supported: ${Object.keys(CE_ACTIVATIONS).join(', ')})`);
    return { activation, path: value, from, problemType };
  }
  return numLabels === 1
    ? { activation: 'sigmoid', path: 'torch.nn.modules.activation.Sigmoid', from: 'default', problemType }
    : { activation: 'identity', path: 'torch.nn.modules.linear.Identity', from: 'default', problemType };
}

function parseJsonFile(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${where}: not valid JSON (${(error as Error).message})`);
  }
}
