// jina-XLM-RoBERTa (jinaai/xlm-roberta-flash-implementation: the backbone of jina-embeddings-v3
// and jina-colbert-v2): XLM-R's post-LayerNorm encoder with no position table, rotate-half RoPE
// (rotary_emb_base) on q and k, a fused Wqkv, and, in XLMRobertaLoRA checkpoints, task LoRA
// adapters on every Linear and Embedding (word and token-type embeddings, Wqkv, out_proj, fc1,
// fc2, pooler), one task per sequence (adapter_mask), applied as a low-rank path (src/models/lora.ts).
// Its config.json reads as XLM-R (model_type "xlm-roberta" or none, architectures
// XLMRobertaModel): position_embedding_type "rotary" tells it apart (src/models/index.ts), the
// tensor names (emb_ln, encoder.layers.N.mixer.Wqkv) confirm it. This file is the whole
// architecture: config, checkpoint table, forward plan.
import { ConfigReader } from '../config';
import { CheckpointError, InputError } from '../errors';
import {
  AttentionKernel,
  EmbeddingKernel,
  L2NormKernel,
  LayerNormKernel,
  LoraKernel,
  MatmulKernel,
  PoolingKernel,
  RopeQkvKernel,
  type GPUTensor,
} from '../kernels';
import { rotaryQkvRows } from './rotary';
import { drainUploads } from '../gpu';
import { ropeTable } from '../tables';
import { checkNoExtraLayer, checkTable, detectPrefix, lazySection, normSpec, specsOf, tensorSpec as spec, type TensorLookup, type TensorSpec } from '../tensor-table';
import { embeddingDispatches, maxTokensForWidth, modelArithmetic, pooledOutputs, PlanBuilder, WeightArena, type EmbeddingTable } from './common';
import { loraEmbeddingLayout, loraLinearDispatches, loraLinearLayout, type LoraLinearTensors } from './lora';
import type { Architecture, BatchLayout, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

/** hidden_act values the reference accepts, and the epilogue computing each. */
const ACTIVATIONS = { gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_fast: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh' } as const;

/** The per-sequence input naming each sequence's task: an index into lora_adaptations. */
export const ADAPTER_MASK = 'adapter_mask';

export interface JinaXlmRobertaConfig extends EncoderConfig {
  intermediateSize: number;
  activation: 'gelu' | 'gelu_tanh';
  layerNormEps: number;
  rotaryBase: number;
  /** lora_adaptations: the task names, by adapter_mask index ([] when null). */
  loraAdaptations: string[];
  loraRank: number;
  loraAlpha: number;
  /** task_instructions: the prompt each task puts before a text (null when the config has none). */
  taskInstructions: Record<string, string> | null;
  /** encode()'s pooling: emb_pooler "cls", else the masked mean. */
  embPooler: 'cls' | 'mean';
  truncateDim: number | null;
  matryoshkaDimensions: number[] | null;
}

/** Whether a config.json is this architecture's (what the registry asks before model_type). */
export function isJinaXlmRobertaConfig(fields: Record<string, unknown>): boolean {
  const modelType = fields['model_type'];
  return fields['position_embedding_type'] === 'rotary' && (modelType === undefined || modelType === 'xlm-roberta' || modelType === 'jina-xlm-roberta');
}

function stringList(r: ConfigReader, field: string): string[] | null {
  const value = r.fields[field];
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string') || new Set(value).size !== value.length) {
    r.fail(`${field} must be a list of distinct strings, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}

export function parseJinaXlmRobertaConfig(json: unknown, where: string): JinaXlmRobertaConfig {
  const r = new ConfigReader(json, where);
  if (!isJinaXlmRobertaConfig(r.fields)) r.fail(`is not a jina-XLM-RoBERTa config (position_embedding_type "rotary", model_type "xlm-roberta" or none)`);
  const hiddenSize = r.integer('hidden_size', 1);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const intermediateSize = r.integer('intermediate_size', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0) r.fail(`hidden_size=${hiddenSize} is not a multiple of 4; kernels read vec4`);
  const typeVocabSize = r.integer('type_vocab_size', 1, 1);
  if (typeVocabSize !== 1) r.fail(`type_vocab_size=${typeVocabSize} is not supported: jina-XLM-RoBERTa checkpoints have one token type (every token gets row 0)`);
  const hiddenAct = r.choice('hidden_act', Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[], 'gelu');
  const loraAdaptations = stringList(r, 'lora_adaptations') ?? [];
  const instructions = r.fields['task_instructions'];
  let taskInstructions: Record<string, string> | null = null;
  if (instructions !== undefined && instructions !== null) {
    if (typeof instructions !== 'object' || Array.isArray(instructions) || !Object.values(instructions).every((v) => typeof v === 'string')) {
      r.fail(`task_instructions must be an object of task name -> prompt text, got ${JSON.stringify(instructions)}`);
    }
    taskInstructions = instructions as Record<string, string>;
    const unknown = Object.keys(taskInstructions).filter((t) => !loraAdaptations.includes(t));
    if (unknown.length > 0) r.fail(`task_instructions names ${unknown.map((t) => JSON.stringify(t)).join(', ')}, not in lora_adaptations ${JSON.stringify(loraAdaptations)}`);
  }
  const matryoshkaDimensions = r.fields['matryoshka_dimensions'] ?? null;
  if (matryoshkaDimensions !== null && (!Array.isArray(matryoshkaDimensions) || !matryoshkaDimensions.every((d) => Number.isInteger(d) && d >= 1 && d <= hiddenSize))) {
    r.fail(`matryoshka_dimensions must be a list of integers in [1, hidden_size=${hiddenSize}], got ${JSON.stringify(matryoshkaDimensions)}`);
  }
  const truncateDim = r.has('truncate_dim') ? r.integer('truncate_dim', 1) : null;
  if (truncateDim !== null && !(matryoshkaDimensions as number[] | null)?.includes(truncateDim)) {
    r.fail(`truncate_dim=${truncateDim} is not one of matryoshka_dimensions ${JSON.stringify(matryoshkaDimensions)}`);
  }
  const embPooler = r.fields['emb_pooler'];
  if (embPooler !== undefined && embPooler !== null && embPooler !== 'cls' && embPooler !== 'mean') r.fail(`emb_pooler is ${JSON.stringify(embPooler)}; supported: null (mean), "cls"`);
  const dropout = r.fields['lora_dropout_p'];
  if (dropout !== undefined && dropout !== null && typeof dropout !== 'number') r.fail(`lora_dropout_p must be a number, got ${JSON.stringify(dropout)}`);
  return {
    modelType: 'jina-xlm-roberta',
    architectures: r.architectures(),
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    // No position table: max_position_embeddings (8194) is the tokenizer's limit, not the model's.
    maxLength: r.integer('max_position_embeddings', 1, 8194),
    padTokenId: r.padTokenId(vocabSize, Math.min(1, vocabSize - 1)),
    typeVocabSize,
    numLabels: null,
    id2label: null,
    ...(loraAdaptations.length > 0 ? { tasks: { names: loraAdaptations, input: ADAPTER_MASK, prompts: taskInstructions ?? {} } } : {}),
    // encode(): pooled (mean, or the first token with emb_pooler "cls"), truncated, L2-normalised.
    encode: { pooling: embPooler === 'cls' ? 'cls' : 'mean', normalize: true, truncateDim, dimensions: matryoshkaDimensions as number[] | null },
    intermediateSize,
    activation: ACTIVATIONS[hiddenAct],
    layerNormEps: r.positive('layer_norm_eps', 1e-5),
    rotaryBase: r.positive('rotary_emb_base', 10000),
    loraAdaptations,
    loraRank: r.integer('lora_rank', 1, 4),
    loraAlpha: r.positive('lora_alpha', 1),
    taskInstructions,
    embPooler: embPooler === 'cls' ? 'cls' : 'mean',
    truncateDim,
    matryoshkaDimensions: matryoshkaDimensions as number[] | null,
  };
}

/** A task name's adapter_mask index; an unknown name is an InputError listing the known ones. */
export function taskIndex(config: JinaXlmRobertaConfig, task: string, what = 'task'): number {
  const i = config.loraAdaptations.indexOf(task);
  if (i < 0) {
    const known = config.loraAdaptations;
    throw new InputError(
      `${what} ${JSON.stringify(task)} is not a task of this model (${known.length > 0 ? `its lora_adaptations: ${known.map((t) => JSON.stringify(t)).join(', ')}` : 'it has no LoRA adapters'})`,
    );
  }
  return i;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

/** A Linear as stored: weight [out, in], bias [out], and its task adapters when the checkpoint has them. */
interface Linear {
  weight: Float32Array;
  bias: Float32Array;
  lora: { a: Float32Array; b: Float32Array } | null; // lora_A [T, R, in], lora_B [T, out, R]
}

/** An Embedding as stored: weight [rows, C], and its adapters (lora_A [T, rows, R], lora_B [T, R, C]). */
interface Embedding {
  weight: Float32Array;
  lora: { a: Float32Array; b: Float32Array } | null;
}

export interface JinaXlmRobertaWeights {
  word: Embedding; // [V, C]
  tokenType: Embedding; // [1, C]
  embeddingNorm: { weight: Float32Array; bias: Float32Array }; // emb_ln [C]
  layers: {
    wqkv: Linear; // [3C, C]: rows q (head-major), k, v
    outProj: Linear; // [C, C]
    norm1: { weight: Float32Array; bias: Float32Array };
    fc1: Linear; // [I, C]
    fc2: Linear; // [C, I]
    norm2: { weight: Float32Array; bias: Float32Array };
  }[];
  pooler: Linear | null; // [C, C]
  /** Adapter tasks (T, 0 without LoRA), rank R and scale alpha / R. */
  tasks: number;
  rank: number;
  scale: number;
}

type Pair = { weight: TensorSpec; bias: TensorSpec | null };

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadJinaXlmRobertaWeights(config: JinaXlmRobertaConfig, lookup: TensorLookup) {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V } = config;
  // XLMRobertaLoRA files name every adapted weight ….parametrizations.weight.original (with the
  // adapters beside it); plain XLMRobertaModel files ….weight.
  const loraProbe = 'embeddings.word_embeddings.parametrizations.weight.original';
  const isLora = lookup.has(`roberta.${loraProbe}`) || lookup.has(loraProbe);
  const prefix = detectPrefix(lookup, ['', 'roberta.'], isLora ? loraProbe : 'embeddings.word_embeddings.weight', 'jina-XLM-RoBERTa');
  if (!lookup.has(`${prefix}emb_ln.weight`) || !lookup.has(`${prefix}encoder.layers.0.mixer.${isLora ? 'Wqkv.parametrizations.weight.original' : 'Wqkv.weight'}`)) {
    const bert = lookup.has(`${prefix}encoder.layer.0.attention.self.query.weight`);
    throw new CheckpointError(
      `${lookup.label}: config.json says position_embedding_type "rotary" (jina-XLM-RoBERTa), but the tensors ${bert ? 'are a plain XLM-R / BERT checkpoint\'s (encoder.layer.N.attention.self.query)' : `lack ${prefix}emb_ln.weight / ${prefix}encoder.layers.0.mixer.Wqkv`}`,
    );
  }
  const T = config.loraAdaptations.length;
  const R = config.loraRank;
  if (isLora && T === 0) throw new CheckpointError(`${lookup.label}: has LoRA adapters (${prefix}${loraProbe}), but config.json lora_adaptations is empty or null, so their tasks are unknown`);
  checkNoExtraLayer(lookup, (i) => `${prefix}encoder.layers.${i}.mixer.${isLora ? 'Wqkv.parametrizations.weight.original' : 'Wqkv.weight'}`, config.numLayers);
  const hidden = `hidden_size=${C}`;
  const hint = ` (config.json num_hidden_layers=${config.numLayers})`;
  const tasks = `lora_adaptations: ${T} tasks`;
  const rank = `lora_rank=${R}`;
  const weightName = (base: string) => (isLora ? `${base}.parametrizations.weight.original` : `${base}.weight`);
  const adapters = (base: string, a: number[], b: number[], because: string[], h: string) =>
    isLora
      ? {
          a: spec(`${base}.parametrizations.weight.0.lora_A`, a, [tasks, rank, ...because], h),
          b: spec(`${base}.parametrizations.weight.0.lora_B`, b, [tasks, rank, ...because], h),
        }
      : null;
  const linear = (base: string, out: number, inp: number, because: string[], h = '') => ({
    weight: spec(weightName(base), [out, inp], because, h),
    bias: spec(`${base}.bias`, [out], because, h),
    lora: adapters(base, [T, R, inp], [T, out, R], because, h),
  });
  const embedding = (base: string, rows: number, because: string[]) => ({
    weight: spec(weightName(base), [rows, C], because),
    lora: adapters(base, [T, rows, R], [T, R, C], because, ''),
  });
  const norm = (base: string, h = ''): Pair => normSpec(lookup, base, C, [hidden], { hint: h });
  const p = prefix;
  const table = {
    word: embedding(`${p}embeddings.word_embeddings`, V, [`vocab_size=${V}`, hidden]),
    tokenType: embedding(`${p}embeddings.token_type_embeddings`, 1, ['type_vocab_size=1', hidden]),
    embeddingNorm: norm(`${p}emb_ln`),
    layers: Array.from({ length: config.numLayers }, (_, i) => {
      const l = `${p}encoder.layers.${i}`;
      return {
        wqkv: linear(`${l}.mixer.Wqkv`, 3 * C, C, [hidden], hint),
        outProj: linear(`${l}.mixer.out_proj`, C, C, [hidden], hint),
        norm1: norm(`${l}.norm1`, hint),
        fc1: linear(`${l}.mlp.fc1`, I, C, [`intermediate_size=${I}`, hidden], hint),
        fc2: linear(`${l}.mlp.fc2`, C, I, [hidden, `intermediate_size=${I}`], hint),
        norm2: norm(`${l}.norm2`, hint),
      };
    }),
    pooler: lookup.has(weightName(`${p}pooler.dense`)) ? linear(`${p}pooler.dense`, C, C, [hidden]) : null,
  };
  // The implementation's heads (MLM, classification) are not run here: refuse rather than ignore them.
  const head = ['lm_head.dense.weight', 'lm_head.decoder.weight', 'classifier.dense.weight', 'classifier.out_proj.weight'].find((n) => lookup.has(n) || lookup.has(`roberta.${n}`));
  if (head) throw new CheckpointError(`${lookup.fileOf(lookup.has(head) ? head : `roberta.${head}`)}: has ${head}; jina-XLM-RoBERTa heads (MLM, classification) are not supported, only the encoder (XLMRobertaModel / XLMRobertaLoRA)`);
  const summary = checkTable(lookup, specsOf(table));
  const lazyLora = (s: { a: TensorSpec; b: TensorSpec } | null) => s && lazySection(lookup, s);
  const readLinear = (s: ReturnType<typeof linear>): Linear => Object.assign(lazySection(lookup, { weight: s.weight, bias: s.bias }), { lora: lazyLora(s.lora) });
  const readEmbedding = (s: ReturnType<typeof embedding>): Embedding => Object.assign(lazySection(lookup, { weight: s.weight }), { lora: lazyLora(s.lora) });
  const readNorm = (s: Pair) => lazySection(lookup, { weight: s.weight, bias: s.bias! });
  const weights: JinaXlmRobertaWeights = {
    word: readEmbedding(table.word),
    tokenType: readEmbedding(table.tokenType),
    embeddingNorm: readNorm(table.embeddingNorm),
    layers: table.layers.map((l) => ({
      wqkv: readLinear(l.wqkv),
      outProj: readLinear(l.outProj),
      norm1: readNorm(l.norm1),
      fc1: readLinear(l.fc1),
      fc2: readLinear(l.fc2),
      norm2: readNorm(l.norm2),
    })),
    pooler: table.pooler && readLinear(table.pooler),
    tasks: isLora ? T : 0,
    rank: R,
    scale: config.loraAlpha / R,
  };
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

/** A Linear on the GPU; `down` / `up` are null without adapters. */
interface LinearTensors {
  weight: GPUTensor;
  bias: GPUTensor;
  down: GPUTensor | null; // (T R, in) f32
  up: GPUTensor | null; // (T, out, R) f32, scaled
}

interface LayerTensors {
  wqkv: LinearTensors; // (3C, C) per-head [q_h; k_h; v_h] rows, q and k in rotate-half pair order
  outProj: LinearTensors; // (C, C)
  norm1: { weight: GPUTensor; bias: GPUTensor };
  fc1: LinearTensors; // (I, C)
  fc2: LinearTensors; // (C, I)
  norm2: { weight: GPUTensor; bias: GPUTensor };
}

interface EmbeddingTensors {
  word: EmbeddingTable; // (V, C) in row chunks
  /** (T + 1, C): row t = the token-type row adapted by task t, row T = as stored (no task). */
  tokenType: GPUTensor;
  /** Word adapters: (V, P) rows of every task's A (in row chunks) and (T, C, R) scaled B; null without LoRA. */
  wordLora: { down: EmbeddingTable; up: GPUTensor; stride: number } | null;
  norm: { weight: GPUTensor; bias: GPUTensor };
}

export class JinaXlmRobertaModel implements EncoderModel {
  readonly positionOffset = 0;
  readonly headKind: HeadKind = 'none';
  readonly numLabels = 0;
  /** adapter_mask when the checkpoint has adapters (else none: the runner refuses one). */
  readonly sequenceInputs: readonly string[];

  private constructor(
    readonly device: GPUDevice,
    readonly config: JinaXlmRobertaConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly k: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: EmbeddingTensors,
    private readonly layers: LayerTensors[],
    private readonly pooler: LinearTensors | null,
    private readonly rope: GPUTensor,
    /** Adapter tasks T (0: no LoRA). */
    private readonly tasks: number,
    private readonly rank: number,
    readonly dtype: ModelDtype,
  ) {
    this.sequenceInputs = tasks > 0 ? [ADAPTER_MASK] : [];
  }

  get hasPooler(): boolean {
    return this.pooler !== null;
  }

  static async create(device: GPUDevice, config: JinaXlmRobertaConfig, weights: JinaXlmRobertaWeights, options: ModelOptions = {}): Promise<JinaXlmRobertaModel> {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, vocabSize: V, maxLength } = config;
    const { tasks: T, rank: R, scale } = weights;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, T > 0);
    // Wqkv rows [q; k; v] -> per-head [q_h; k_h; v_h] (what rope_qkv reads), with q and k rows of
    // each head reordered (i, i + D/2) -> (2i, 2i + 1): rotate-half RoPE then is the kernel's
    // adjacent-pair RoPE. Wqkv's bias and its adapters' B (out rows) get the same order.
    const qkvRows = (w: Float32Array, K: number) => rotaryQkvRows(w, H, D, K);
    const upLinear = (label: string, l: Linear, N: number, K: number, rows?: (w: Float32Array, K: number) => Float32Array): LinearTensors => {
      const order = rows ?? ((w: Float32Array) => w);
      const base = { weight: arena.weight(label, order(l.weight, K), [N, K]), bias: arena.tensor(`${label}.bias`, order(l.bias, 1), [N]) };
      const lora = l.lora;
      if (!lora) return { ...base, down: null, up: null };
      const b = lora.b;
      // B [T, N, R]: reorder each task's N rows as the weight's.
      const bRows = rows ? concat(Array.from({ length: T }, (_, t) => order(b.subarray(t * N * R, (t + 1) * N * R), R))) : b;
      const layout = loraLinearLayout(lora.a, bRows, { tasks: T, rank: R, rows: N, cols: K }, scale);
      return { ...base, down: arena.tensor(`${label}.lora_A`, layout.down, [T * R, K]), up: arena.tensor(`${label}.lora_B`, layout.up, [T, N, R]) };
    };
    const upNorm = (label: string, n: { weight: Float32Array; bias: Float32Array }) => ({ weight: arena.tensor(label, n.weight, [C]), bias: arena.tensor(`${label}.bias`, n.bias, [C]) });
    const layers: LayerTensors[] = [];
    for (const [i, w] of weights.layers.entries()) {
      const L = `layer${i}`;
      layers.push({
        wqkv: upLinear(`${L}.Wqkv`, w.wqkv, 3 * C, C, qkvRows),
        outProj: upLinear(`${L}.out_proj`, w.outProj, C, C),
        norm1: upNorm(`${L}.norm1`, w.norm1),
        fc1: upLinear(`${L}.fc1`, w.fc1, I, C),
        fc2: upLinear(`${L}.fc2`, w.fc2, C, I),
        norm2: upNorm(`${L}.norm2`, w.norm2),
      });
      await drainUploads(device); // one layer's staging copies at a time
    }
    const pooler = weights.pooler && upLinear('pooler', weights.pooler, C, C);
    // Token type: every token gets row 0, which each task adapts by s A_tt[t][0] @ B_tt[t]: one
    // row per task (f64 sums, rounded once, as the reference's f32 merge up to an ulp) + the plain row.
    const tt = weights.tokenType;
    const typeRows = new Float32Array((T + 1) * C);
    const row0 = tt.weight;
    for (let t = 0; t <= T; t++) typeRows.set(row0, t * C);
    if (tt.lora && T > 0) {
      const { a, b } = tt.lora; // [T, 1, R], [T, R, C]
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < C; c++) {
          let d = 0;
          for (let j = 0; j < R; j++) d += a[t * R + j] * b[(t * R + j) * C + c];
          typeRows[t * C + c] = row0[c] + scale * d;
        }
      }
    }
    let wordLora: EmbeddingTensors['wordLora'] = null;
    const word = weights.word;
    if (word.lora && T > 0) {
      const layout = loraEmbeddingLayout(word.lora.a, word.lora.b, { tasks: T, rank: R, vocab: V, hidden: C }, scale);
      wordLora = { down: arena.embeddingTable('word_embeddings.lora_A', layout.down, V, layout.stride), up: arena.tensor('word_embeddings.lora_B', layout.up, [T, C, R]), stride: layout.stride };
    }
    const embeddings: EmbeddingTensors = {
      word: arena.embeddingTable('word_embeddings', word.weight, V, C),
      tokenType: arena.tensor('token_type_embeddings', typeRows, [T + 1, C]),
      wordLora,
      norm: upNorm('emb_ln', weights.embeddingNorm),
    };
    const rope = arena.tensor('rope', ropeTable(maxLength, D, config.rotaryBase), [maxLength, D / 2, 2]);
    return new JinaXlmRobertaModel(device, config, arena, kernels, embeddings, layers, pooler, rope, T, R, dtype);
  }

  maxTokensPerForward(_options: PlanOptions): number {
    const { hiddenSize: C, intermediateSize: I } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I));
  }

  /** Each token's (or, with `perSequence`, each sequence's) task from adapter_mask; T (no task) without one. */
  private taskTable(layout: BatchLayout, rows: number, perSequence: boolean): Uint32Array<ArrayBuffer> {
    const T = this.tasks;
    const mask = layout.sequenceInputs[ADAPTER_MASK];
    const out = new Uint32Array(rows).fill(T);
    if (!mask) return out;
    layout.ranges.forEach((range, s) => {
      const t = mask[s];
      if (!Number.isInteger(t) || t < 0 || t >= T) {
        throw new InputError(
          `${ADAPTER_MASK}[${s}] = ${t} is not a task index in [0, ${T}) (lora_adaptations: ${this.config.loraAdaptations.map((n, i) => `${i} ${JSON.stringify(n)}`).join(', ')})`,
        );
      }
      if (perSequence) out[s] = t;
      else out.fill(t, range.start, range.start + range.length);
    });
    return out;
  }

  /**
   * The forward pass for N tokens in S sequences. Shapes: C hidden, H heads of D, I intermediate,
   * T tasks of rank R. Post-LN: x = LN(x + out_proj'(attn(rope(Wqkv'(x))))); x = LN(x + fc2'(gelu(fc1'(x)))),
   * where ' is "adapted by the row's task" (the low-rank path; nothing extra without adapters).
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, layerNormEps: eps } = this.config;
    const k = this.k;
    const T = this.tasks;
    const R = this.rank;
    const N = tokens;
    const S = sequences;
    const p = new PlanBuilder(this.device, N, S, options, { tokenTypes: false });
    const { alloc, dispatches: d } = p;
    const { inputIds, attentionMask, positions, attentionTiles, sequenceTable } = p.inputs;
    // (N) u32 each token's task (T: none), from adapter_mask: also its token-type row.
    const tokenTasks = p.hostInput('token_tasks', [N], (layout) => this.taskTable(layout, N, false));
    const sum = alloc('residual_sum', [N, C]); // (N, C) x + sublayer(x), before its LayerNorm
    const xA = alloc('residual_a', [N, C]); // (N, C) layer input / output
    const xB = alloc('residual_b', [N, C]); // (N, C) after norm1
    const qkv = alloc('qkv', [N, 3 * C]); // (N, H*3*D) per-head interleaved
    const q = alloc('q', [H, N, D]); // (H, N, D) after RoPE
    const kk = alloc('k', [H, N, D]); // (H, N, D) after RoPE
    const v = alloc('v', [H, N, D]); // (H, N, D)
    const attn = alloc('attention_out', [N, C]); // (N, H*D)
    const inter = alloc('intermediate', [N, I]); // (N, I) gelu(fc1'(x))
    const last = alloc('last_hidden_state', [N, C]); // (N, C)
    const z = T > 0 ? alloc('lora_z', [N, T * R]) : null; // (N, T R) x A_all^T of the current Linear
    const e = this.embeddings;

    // act(x W'^T + b) (+ residual): the plain matmul, or with adapters the low-rank path.
    type Kind = 'bias' | 'act' | 'tanh' | 'residual';
    const linear = (label: string, x: GPUTensor, w: LinearTensors, out: GPUTensor, kind: Kind, zBuffer: GPUTensor | null, tasks: GPUTensor, residual?: GPUTensor) => {
      const base = kind === 'residual' ? k.matmulBiasResidual : k.matmulBias;
      if (w.down && w.up && zBuffer && k.down && k.lora && k.loraAct && k.loraTanh) {
        const lora = kind === 'act' ? k.loraAct : kind === 'tanh' ? k.loraTanh : k.lora; // the activation moves after the adapter term
        return loraLinearDispatches({ down: k.down, base, lora }, label, x, w as LoraLinearTensors, zBuffer, tasks, out, residual);
      }
      const kernel = kind === 'act' ? k.matmulBiasAct : kind === 'tanh' ? k.matmulBiasTanh : base;
      return [kernel.createDispatch(label, x, w.weight, out, { bias: w.bias, ...(residual ? { residual } : {}) })];
    };

    d.push(...embeddingDispatches(k.embedding, 'embedding', inputIds, e.word, sum, { typeIds: tokenTasks, typeTable: e.tokenType })); // (N, C) word + type'
    if (e.wordLora && z && k.loraGather && k.lora) {
      const zE = alloc('lora_z_embedding', [N, e.wordLora.stride]); // (N, P) each token's A rows, every task
      d.push(...embeddingDispatches(k.loraGather, 'embedding.lora_down', inputIds, e.wordLora.down, zE)); // (N, P)
      d.push(k.lora.createDispatch('embedding.lora_up', zE, e.wordLora.up, tokenTasks, sum)); // (N, C) + s A_t[id] B_t
    }
    d.push(k.layerNorm.createDispatch('emb_ln', sum, e.norm.weight, e.norm.bias, xA, eps)); // (N, C)
    this.layers.forEach((w, i) => {
      const L = `layer${i}`;
      const out = i === this.layers.length - 1 ? last : xA;
      d.push(...linear(`${L}.Wqkv`, xA, w.wqkv, qkv, 'bias', z, tokenTasks)); // (N, 3C)
      d.push(k.rope.createDispatch(`${L}.rope`, qkv, this.rope, positions, q, kk, v)); // (H, N, D) x3
      d.push(k.attention.createDispatch(`${L}.attention`, q, kk, v, attentionMask, attentionTiles, attn)); // (N, C)
      d.push(...linear(`${L}.out_proj`, attn, w.outProj, sum, 'residual', z, tokenTasks, xA)); // (N, C) xA + out_proj'(attn)
      d.push(k.layerNorm.createDispatch(`${L}.norm1`, sum, w.norm1.weight, w.norm1.bias, xB, eps)); // (N, C)
      d.push(...linear(`${L}.fc1`, xB, w.fc1, inter, 'act', z, tokenTasks)); // (N, I) gelu(fc1'(xB))
      d.push(...linear(`${L}.fc2`, inter, w.fc2, sum, 'residual', z, tokenTasks, xB)); // (N, C) xB + fc2'(inter)
      d.push(k.layerNorm.createDispatch(`${L}.norm2`, sum, w.norm2.weight, w.norm2.bias, out, eps)); // (N, C)
    });
    const pooled = pooledOutputs(alloc, d, k, last, attentionMask, sequenceTable); // (S, C) x4
    let poolerOutput: GPUTensor | null = null;
    if (this.pooler) {
      poolerOutput = alloc('pooler_output', [S, C]); // (S, C) tanh(pooler'(cls)), the sequence's task
      const sequenceTasks = T > 0 ? p.hostInput('sequence_tasks', [S], (layout) => this.taskTable(layout, S, true)) : null; // (S) u32
      const zP = T > 0 ? alloc('lora_z_pooler', [S, T * R]) : null; // (S, T R)
      d.push(...linear('pooler', pooled.pooledCls, this.pooler, poolerOutput, 'tanh', zP, sequenceTasks ?? tokenTasks));
    }
    return p.finish({ lastHiddenState: last, pooled, poolerOutput });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

function concat(parts: Float32Array[]): Float32Array<ArrayBuffer> {
  const out = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of parts) out.set(a, offset), (offset += a.length);
  return out;
}

/** Every pipeline a forward uses, compiled once; the adapter kernels only for a LoRA checkpoint. */
function createKernels(arena: WeightArena, config: JinaXlmRobertaConfig, lora: boolean) {
  const { device, dtype: weightDtype, options } = arena;
  const arithmetic = modelArithmetic(device, options);
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic };
  const stride = Math.ceil((config.loraAdaptations.length * config.loraRank) / 4) * 4;
  return arena.kernels({
    embedding: EmbeddingKernel.create(device, config.hiddenSize, { tokenTypes: true }), // word + (task-adapted) token type
    layerNorm: LayerNormKernel.create(device, { bias: true }),
    matmulBias: MatmulKernel.create(device, { ...m, bias: true }), // Wqkv; fc1 and pooler with adapters
    matmulBiasResidual: MatmulKernel.create(device, { ...m, bias: true, residual: true }), // out_proj, fc2
    matmulBiasAct: MatmulKernel.create(device, { ...m, bias: true, activation: config.activation }), // fc1
    matmulBiasTanh: MatmulKernel.create(device, { ...m, bias: true, activation: 'tanh' }), // pooler
    // Adapters (f32): z = x A_all^T, the per-row task term (+ the layer's activation), A rows by token id.
    down: lora ? MatmulKernel.create(device, { strategy: options.matmulStrategy, arithmetic }) : null,
    lora: lora ? LoraKernel.create(device) : null,
    loraAct: lora ? LoraKernel.create(device, { activation: config.activation }) : null,
    loraTanh: lora ? LoraKernel.create(device, { activation: 'tanh' }) : null,
    loraGather: lora ? EmbeddingKernel.create(device, stride) : null,
    rope: RopeQkvKernel.create(device, config.numHeads, config.headDim, { outputDtype: arithmetic }),
    attention: AttentionKernel.create(device, config.numHeads, config.headDim, { arithmetic }),
    pooling: PoolingKernel.create(device),
    l2norm: L2NormKernel.create(device),
  });
}

export const jinaXlmRoberta: Architecture<JinaXlmRobertaConfig, JinaXlmRobertaWeights> = {
  name: 'jina-XLM-RoBERTa',
  modelTypes: ['jina-xlm-roberta'],
  claims: isJinaXlmRobertaConfig,
  parseConfig: parseJinaXlmRobertaConfig,
  loadWeights: loadJinaXlmRobertaWeights,
  createModel: (device, config, weights, options) => JinaXlmRobertaModel.create(device, config, weights, options),
  layerMatmuls: ({ hiddenSize: C, intermediateSize: I }) => [
    { name: 'Wqkv', N: 3 * C, K: C },
    { name: 'out_proj', N: C, K: C },
    { name: 'fc1', N: I, K: C },
    { name: 'fc2', N: C, K: I },
  ],
};
