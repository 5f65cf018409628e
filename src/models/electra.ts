// ELECTRA (Hugging Face transformers' modeling_electra): BERT's embeddings at width
// embedding_size (E) and, only when E != hidden_size (C), embeddings_project (Linear E -> C);
// then BERT's post-LayerNorm layers exactly (same tensor names). No pooler. Heads:
// ElectraForSequenceClassification: out_proj(gelu(dense(h[:, 0]))) (exact GELU, not tanh);
// ElectraForMaskedLM (the generator): decoder(LayerNorm_E(gelu(dense_C->E(h)))) with the decoder
// tied to the word embeddings [V, E]; ElectraForPreTraining (the discriminator):
// dense_prediction(act(dense(h)))[..., 0], one score per token ([B, T]). The layer stack,
// embeddings and heads are bert.ts's; this file is the config, the table and the plan.
import { ConfigReader } from '../config';
import { EmbeddingKernel, MatmulKernel, type GPUTensor, type MatmulActivation } from '../kernels';
import { checkNoExtraLayer, checkTable, detectHead, detectPrefix, lazySection, linearSpec, normSpec, specsOf, tensorSpec as spec, type TensorLookup, type TensorSpec } from '../tensor-table';
import {
  ACTIVATIONS,
  allocPostLNBuffers,
  BERT_LAYER_NAMES,
  bertEmbeddingDispatches,
  bertEmbeddingSpecs,
  classifierDispatches,
  lazyBertEmbeddings,
  lazyPostLNLayer,
  mlmHeadDispatches,
  postLNKernelSpecs,
  postLNLayerDispatches,
  postLNLayerMatmuls,
  postLNLayerTable,
  uploadBertEmbeddings,
  uploadClassifier,
  uploadMlmHead,
  uploadPostLNLayers,
  type BertEmbeddingTensors,
  type BertEmbeddingWeights,
  type BertLayerWeights,
  type ClassifierTensors,
  type MlmHeadTensors,
  type PostLNLayerTensors,
} from './bert';
import { maxTokensForWidth, modelArithmetic, pooledOutputs, PlanBuilder, WeightArena } from './common';
import type { Architecture, EncoderConfig, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';

// ---------------------------------------------------------------------------------------------
// Config

export interface ElectraConfig extends EncoderConfig {
  /** embedding_size: width of the embeddings (E); projected to hidden_size when different. */
  embeddingSize: number;
  intermediateSize: number;
  /** hidden_act, as a matmul epilogue (FFN and the discriminator head). */
  activation: MatmulActivation;
  layerNormEps: number;
  maxPositionEmbeddings: number;
}

export function parseElectraConfig(json: unknown, where: string): ElectraConfig {
  const r = new ConfigReader(json, where);
  const modelType = r.fields['model_type'] ?? 'electra';
  if (modelType !== 'electra') r.fail(`model_type is ${JSON.stringify(modelType)}, expected "electra"`);
  const hiddenSize = r.integer('hidden_size', 1);
  const embeddingSize = r.integer('embedding_size', 1, hiddenSize);
  const numLayers = r.integer('num_hidden_layers', 1);
  const numHeads = r.integer('num_attention_heads', 1);
  const intermediateSize = r.integer('intermediate_size', 1);
  const vocabSize = r.integer('vocab_size', 1);
  const maxPositionEmbeddings = r.integer('max_position_embeddings', 1, 512);
  const typeVocabSize = r.integer('type_vocab_size', 1, 2);
  const hiddenAct = r.choice('hidden_act', Object.keys(ACTIVATIONS), 'gelu');
  const positionType = r.choice('position_embedding_type', ['absolute', 'relative_key', 'relative_key_query'], 'absolute');
  if (positionType !== 'absolute') r.fail(`position_embedding_type ${JSON.stringify(positionType)} is not supported; this engine runs "absolute" position embeddings`);
  const headDim = r.headDim(hiddenSize, numHeads);
  if (hiddenSize % 4 !== 0 || embeddingSize % 4 !== 0) r.fail(`hidden_size=${hiddenSize} and embedding_size=${embeddingSize} must be multiples of 4; kernels read vec4`);
  const architectures = r.architectures();
  return {
    modelType: 'electra',
    architectures,
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    vocabSize,
    maxLength: maxPositionEmbeddings,
    padTokenId: r.padTokenId(vocabSize, 0),
    typeVocabSize,
    ...r.labels(architectures.some((a) => a.endsWith('ForSequenceClassification'))),
    embeddingSize,
    intermediateSize,
    activation: ACTIVATIONS[hiddenAct],
    layerNormEps: r.positive('layer_norm_eps', 1e-12),
    maxPositionEmbeddings,
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint tensors

type Kind = 'none' | 'mlm' | 'classification' | 'token-classification';

export interface ElectraWeights extends BertEmbeddingWeights {
  /** embeddings_project [C, E] + [C]; null when E == C. */
  project: { weight: Float32Array; bias: Float32Array } | null;
  layers: BertLayerWeights[];
  head:
    | { kind: 'none' }
    | { kind: 'mlm'; dense: Float32Array; denseBias: Float32Array; norm: Float32Array; normBias: Float32Array; decoder: Float32Array; decoderBias: Float32Array }
    | { kind: 'classification' | 'token-classification'; dense: Float32Array; denseBias: Float32Array; weight: Float32Array; bias: Float32Array };
}

/** Validates every tensor (presence, shape, dtype) before converting any; each is read when createModel uploads it. */
export function loadElectraWeights(config: ElectraConfig, lookup: TensorLookup) {
  const { hiddenSize: C, embeddingSize: E, vocabSize: V } = config;
  const prefix = detectPrefix(lookup, ['', 'electra.'], 'embeddings.word_embeddings.weight', 'ELECTRA');
  checkNoExtraLayer(lookup, (i) => `${prefix}encoder.layer.${i}.attention.self.query.weight`, config.numLayers);
  const embeddings = bertEmbeddingSpecs(lookup, `${prefix}embeddings`, { vocab: V, positions: config.maxPositionEmbeddings, types: config.typeVocabSize, width: E, widthField: 'embedding_size' });
  const sizes = [`hidden_size=${C}`, `embedding_size=${E}`];
  const pair = (base: string, out: number, inp: number, because: string[]) => linearSpec(base, out, inp, because) as { weight: TensorSpec; bias: TensorSpec };
  const project = E !== C ? pair(`${prefix}embeddings_project`, C, E, sizes) : null;
  const layers = postLNLayerTable(lookup, config, (i) => `${prefix}encoder.layer.${i}.`, BERT_LAYER_NAMES);
  // The discriminator's head is detected like an MLM head, then run as per-token scores.
  const detected = detectHead(config, lookup, {
    mlm: [['generator_predictions.dense.weight'], ['discriminator_predictions.dense.weight']],
    classifier: ['classifier.out_proj.weight', 'classifier.weight'],
  });
  const kind: Kind = detected === 'mlm' && !lookup.has('generator_predictions.dense.weight') ? 'token-classification' : detected;
  const hidden = [`hidden_size=${C}`];
  let head: Record<string, TensorSpec> = {};
  if (kind === 'mlm') {
    const dense = pair('generator_predictions.dense', E, C, sizes);
    const norm = normSpec(lookup, 'generator_predictions.LayerNorm', E, [`embedding_size=${E}`]) as { weight: TensorSpec; bias: TensorSpec };
    // generator_lm_head.weight is tied to the word embeddings [V, E]; save_pretrained drops it.
    const decoder = lookup.has('generator_lm_head.weight') ? spec('generator_lm_head.weight', [V, E], [`vocab_size=${V}`, `embedding_size=${E}`]) : embeddings.word;
    head = { dense: dense.weight, denseBias: dense.bias, norm: norm.weight, normBias: norm.bias, decoder, decoderBias: spec('generator_lm_head.bias', [V], [`vocab_size=${V}`]) };
  } else if (kind === 'token-classification') {
    const dense = pair('discriminator_predictions.dense', C, C, hidden);
    const out = pair('discriminator_predictions.dense_prediction', 1, C, hidden);
    head = { dense: dense.weight, denseBias: dense.bias, weight: out.weight, bias: out.bias };
  } else if (kind === 'classification') {
    const dense = pair('classifier.dense', C, C, hidden);
    const out = pair('classifier.out_proj', config.numLabels!, C, [`num_labels=${config.numLabels}`, ...hidden]);
    head = { dense: dense.weight, denseBias: dense.bias, weight: out.weight, bias: out.bias };
  }
  const summary = checkTable(lookup, specsOf({ embeddings, project, layers, head }));
  const weights = Object.defineProperties(
    {
      project: project && lazySection(lookup, project),
      layers: layers.map((l) => lazyPostLNLayer(lookup, l)),
      head: Object.defineProperties({ kind }, Object.getOwnPropertyDescriptors(lazySection(lookup, head))),
    },
    Object.getOwnPropertyDescriptors(lazyBertEmbeddings(lookup, embeddings)),
  ) as ElectraWeights;
  return { weights, ...summary };
}

// ---------------------------------------------------------------------------------------------
// The model on the GPU

type HeadTensors = { kind: 'none' } | ({ kind: 'mlm' } & MlmHeadTensors) | ({ kind: 'classification' | 'token-classification' } & ClassifierTensors);

/** Every pipeline a forward of this checkpoint uses, compiled once (only the variants it needs). */
function createKernels(arena: WeightArena, config: ElectraConfig, head: Kind) {
  const { device, dtype: weightDtype, options } = arena;
  const m = { weightDtype, strategy: options.matmulStrategy, arithmetic: modelArithmetic(device, options) };
  // The generator and the sequence classifier use exact GELU whatever hidden_act says.
  const gelu = (head === 'mlm' || head === 'classification') && config.activation !== 'gelu';
  return arena.kernels({
    ...postLNKernelSpecs(arena, config, config.activation),
    embedding: EmbeddingKernel.create(device, config.embeddingSize, { positions: true, tokenTypes: true }), // word + position + token type, width E
    matmulBiasGelu: gelu ? MatmulKernel.create(device, { ...m, bias: true, activation: 'gelu' }) : null,
    gather: head === 'mlm' ? EmbeddingKernel.create(device, config.hiddenSize) : null, // the MLM head's logit rows
  });
}

export class ElectraModel implements EncoderModel {
  readonly hasPooler = false;
  readonly positionOffset = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly config: ElectraConfig,
    private readonly arena: WeightArena, // owns every tensor and kernel below
    private readonly kernels: Awaited<ReturnType<typeof createKernels>>,
    private readonly embeddings: BertEmbeddingTensors, // width E
    private readonly project: { weight: GPUTensor; bias: GPUTensor | null } | null, // (C, E)
    private readonly layers: PostLNLayerTensors[],
    private readonly head: HeadTensors,
    readonly dtype: ModelDtype,
  ) {}

  get headKind(): HeadKind {
    return this.head.kind;
  }

  get numLabels(): number {
    return this.head.kind === 'classification' || this.head.kind === 'token-classification' ? this.head.bias.shape[0] : 0;
  }

  /** The discriminator's reference logits are [B, T] (its one score per token, label axis dropped). */
  get tokenLogitsSqueezed(): boolean {
    return this.head.kind === 'token-classification';
  }

  static async create(device: GPUDevice, config: ElectraConfig, weights: ElectraWeights, options: ModelOptions = {}): Promise<ElectraModel> {
    const { hiddenSize: C, embeddingSize: E, vocabSize: V } = config;
    const dtype = options.dtype ?? 'f32';
    const arena = new WeightArena(device, dtype, options);
    const kernels = await createKernels(arena, config, weights.head.kind);
    const layers = await uploadPostLNLayers(arena, config, weights.layers);
    const embeddings = uploadBertEmbeddings(arena, weights, { vocab: V, positions: config.maxPositionEmbeddings, types: config.typeVocabSize, width: E });
    const project = weights.project && arena.linear('embeddings_project', weights.project.weight, weights.project.bias, [C, E]);
    const w = weights.head;
    let head: HeadTensors = { kind: 'none' };
    if (w.kind === 'mlm') head = { kind: 'mlm', ...uploadMlmHead(arena, w, C, E, V) };
    else if (w.kind !== 'none') head = { kind: w.kind, ...uploadClassifier(arena, w, C) };
    return new ElectraModel(device, config, arena, kernels, embeddings, project, layers, head, dtype);
  }

  maxTokensPerForward(options: PlanOptions): number {
    const { hiddenSize: C, embeddingSize: E, intermediateSize: I, vocabSize: V } = this.config;
    return maxTokensForWidth(this.device, Math.max(3 * C, I, E, options.logits && this.head.kind === 'mlm' ? V : 0));
  }

  /**
   * The forward pass for N tokens in S sequences (C hidden, E embedding_size, I intermediate, V
   * vocabulary): e = LN_E(word + type + position); x = e Wp^T + bp when E != C; BERT's layers; heads.
   */
  planForward(tokens: number, sequences: number, options: PlanOptions): ForwardPlan {
    const { embeddingSize: E, layerNormEps: eps } = this.config;
    const k = this.kernels;
    const N = tokens;
    const p = new PlanBuilder(this.device, N, sequences, options, { tokenTypes: true });
    const { alloc, dispatches: d, inputs } = p;
    const buf = allocPostLNBuffers(alloc, N, this.config);
    if (this.project) {
      const sum = alloc('embedding_sum', [N, E]); // (N, E) word + type + position
      const normed = alloc('embedding_normed', [N, E]); // (N, E)
      bertEmbeddingDispatches(d, k, this.embeddings, inputs, sum, normed, eps);
      d.push(k.matmulBias.createDispatch('embeddings_project', normed, this.project.weight, buf.xA, { bias: this.project.bias! })); // (N, C)
    } else {
      bertEmbeddingDispatches(d, k, this.embeddings, inputs, buf.sum, buf.xA, eps); // (N, C)
    }
    postLNLayerDispatches(d, k, this.layers, buf, inputs, eps); // (N, C) last
    const last = buf.last;
    const pooled = pooledOutputs(alloc, d, k, last, inputs.attentionMask, inputs.sequenceTable); // (S, C) x4
    let logits: GPUTensor | null = null;
    let logitRows: GPUTensor | null = null;
    const head = this.head;
    const gelu = k.matmulBiasGelu ?? k.matmulBiasAct;
    if (options.logits && head.kind === 'mlm') {
      ({ logits, logitRows } = mlmHeadDispatches(p, { ...k, gather: k.gather!, act: gelu }, head, last, eps)); // (M, V)
    } else if (options.logits && head.kind === 'classification') {
      logits = classifierDispatches(p, { act: gelu, matmulBias: k.matmulBias }, head, pooled.pooledCls); // (S, labels)
    } else if (options.logits && head.kind === 'token-classification') {
      logits = classifierDispatches(p, { act: k.matmulBiasAct, matmulBias: k.matmulBias }, head, last); // (N, 1) one score per token
    }
    return p.finish({ lastHiddenState: last, pooled, logits, logitRows });
  }

  destroy(): void {
    this.arena.destroy();
  }
}

export const electra: Architecture<ElectraConfig, ElectraWeights> = {
  name: 'ELECTRA',
  modelTypes: ['electra'],
  parseConfig: parseElectraConfig,
  loadWeights: loadElectraWeights,
  createModel: (device, config, weights, options) => ElectraModel.create(device, config, weights, options),
  layerMatmuls: postLNLayerMatmuls,
};
