// The sentence-transformers module chain after the transformer, as GPU dispatches: Pooling (any
// of the six modes, concatenated; include_prompt false through the sequence table's excluded
// count), then each Dense (a matmul with bias + activation epilogue) and Normalize (l2norm) in
// modules.json order. Architecture-neutral: it reads any plan's lastHiddenState, attention mask
// and sequence table, and its dispatches are recorded after the plan's own, in the same pass and
// submit (Runner), so the forward still reads back nothing but the sentence embeddings.
// Built once per model load (pipelines, Dense weights); one HeadPlan per forward plan.
import { CheckpointError } from './errors';
import { createBufferFrom, createStorageBuffer } from './gpu';
import { L2NormKernel, MatmulKernel, SentencePoolingKernel, type Dispatch, type GPUTensor, type SentencePoolingMode } from './kernels';
import type { ForwardPlan } from './models/types';
import type { DenseWeights, SentenceTransformersConfig } from './sentence-transformers';

/** The head's buffers and dispatches for one forward plan (S sequences). */
export interface SentenceHeadPlan {
  dispatches: Dispatch[];
  /** (S, dimension) sentence_embedding after every module. */
  output: GPUTensor;
  tensors: Map<string, GPUTensor>;
  destroy(): void;
}

type Step =
  | { kind: 'dense'; label: string; kernel: MatmulKernel; weight: GPUTensor; bias: GPUTensor | null; width: number }
  | { kind: 'normalize'; label: string; width: number };

export class SentenceTransformersHead {
  private constructor(
    private readonly device: GPUDevice,
    private readonly pooling: { mode: SentencePoolingMode; kernel: SentencePoolingKernel }[],
    private readonly hidden: number,
    private readonly steps: Step[],
    private readonly l2norm: L2NormKernel | null,
    /** Width of sentence_embedding. */
    readonly dimension: number,
  ) {}

  /** Compiles the kernels and uploads the Dense weights; checks the chain against the model's width. */
  static async create(device: GPUDevice, config: SentenceTransformersConfig, dense: DenseWeights[], hiddenSize: number): Promise<SentenceTransformersHead> {
    const pooling = config.pooling;
    if (!pooling) throw new CheckpointError('sentence-transformers head: the folder has no Pooling module');
    if (pooling.embeddingDimension !== hiddenSize) {
      throw new CheckpointError(`${pooling.file}: embedding_dimension (word_embedding_dimension in older files) is ${pooling.embeddingDimension}, but the transformer's hidden_size is ${hiddenSize}`);
    }
    const kernels = new Map<SentencePoolingMode, SentencePoolingKernel>();
    for (const mode of pooling.modes) if (!kernels.has(mode)) kernels.set(mode, await SentencePoolingKernel.create(device, mode));
    const steps: Step[] = [];
    let width = pooling.modes.length * hiddenSize;
    let denseIndex = 0;
    let l2norm: L2NormKernel | null = null;
    for (const step of config.steps) {
      if (step.kind === 'normalize') {
        l2norm ??= await L2NormKernel.create(device);
        steps.push({ kind: 'normalize', label: `st.${step.path || 'Normalize'}`, width });
        continue;
      }
      const weights = dense[denseIndex++];
      if (!weights) throw new CheckpointError(`${step.path}: Dense weights missing`);
      const label = `st.${step.path}`;
      const kernel = await MatmulKernel.create(device, { bias: step.bias, activation: step.activation });
      const weight = { label: `${label}.weight`, shape: [step.outFeatures, step.inFeatures], buffer: createBufferFrom(device, `${label}.weight`, weights.weight) };
      const bias = weights.bias && { label: `${label}.bias`, shape: [step.outFeatures], buffer: createBufferFrom(device, `${label}.bias`, weights.bias) };
      steps.push({ kind: 'dense', label, kernel, weight, bias, width: step.outFeatures });
      width = step.outFeatures;
    }
    const modes = pooling.modes.map((mode) => ({ mode, kernel: kernels.get(mode)! }));
    return new SentenceTransformersHead(device, modes, hiddenSize, steps, l2norm, width);
  }

  /** Buffers and dispatches reading `plan`'s last hidden state, mask and sequence table. */
  plan(plan: ForwardPlan): SentenceHeadPlan {
    const S = plan.sequences;
    const tensors = new Map<string, GPUTensor>();
    const tensor = (label: string, width: number): GPUTensor => {
      const t = { label, shape: [S, width], buffer: createStorageBuffer(this.device, label, S * width * 4) };
      tensors.set(label, t);
      return t;
    };
    const dispatches: Dispatch[] = [];
    const { lastHiddenState } = plan.outputs;
    let x = tensor('st.pooled', this.pooling.length * this.hidden); // (S, modes * C)
    this.pooling.forEach(({ mode, kernel }, i) => {
      dispatches.push(kernel.createDispatch(`st.pooling.${mode}`, lastHiddenState, plan.attentionMask, plan.sequenceTable, x, i * this.hidden));
    });
    for (const [i, step] of this.steps.entries()) {
      const out = tensor(`${step.label}.out${i}`, step.width); // (S, width)
      if (step.kind === 'dense') dispatches.push(step.kernel.createDispatch(step.label, x, step.weight, out, step.bias ? { bias: step.bias } : {}));
      else dispatches.push(this.l2norm!.createDispatch(step.label, x, out));
      x = out;
    }
    return {
      dispatches,
      output: x,
      tensors,
      destroy() {
        for (const d of dispatches) d.destroy?.();
        for (const t of tensors.values()) t.buffer.destroy();
      },
    };
  }

  destroy(): void {
    for (const { kernel } of this.pooling) kernel.destroy();
    for (const step of this.steps) {
      if (step.kind !== 'dense') continue;
      step.kernel.destroy();
      step.weight.buffer.destroy();
      step.bias?.buffer.destroy();
    }
    this.l2norm?.destroy();
  }
}
