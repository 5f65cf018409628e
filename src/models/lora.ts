// Task LoRA adapters applied as a low-rank path (jina-embeddings-v3's LoRAParametrization on
// every Linear and Embedding): the base weight runs as stored, a small matmul gives z = x A_all^T
// for all T tasks at once ((M, T R): ~T R / N of the layer's own work), and kernels/lora.wgsl adds
// each row's own task's z_t (s B_t)^T, so one batch may mix tasks and no per-task copy of any
// weight exists (merging would cost a full copy of every adapted matrix per task: 5 x 1.14 GB in
// BF16 for the real checkpoint, the 250002-row embedding table included; see bench/README.md).
import { KernelShapeError } from '../errors';
import type { Dispatch, GPUTensor, LoraKernel, MatmulKernel } from '../kernels';

/**
 * A Linear's adapters (lora_A [T, R, K], lora_B [T, N, R] as stored) in kernel layout:
 * down [T R, K] = the tasks' A stacked (the same memory: row t R + j is A[t, j]); up [T, N, R] =
 * scale * B. `rows` N and `cols` K are the Linear's out and in features.
 */
export function loraLinearLayout(
  a: Float32Array,
  b: Float32Array,
  dims: { tasks: number; rank: number; rows: number; cols: number },
  scale: number,
): { down: Float32Array; up: Float32Array<ArrayBuffer> } {
  const { tasks: T, rank: R, rows: N, cols: K } = dims;
  if (a.length !== T * R * K) throw new KernelShapeError(`loraLinearLayout: lora_A has ${a.length} values, expected [${T}, ${R}, ${K}]`);
  if (b.length !== T * N * R) throw new KernelShapeError(`loraLinearLayout: lora_B has ${b.length} values, expected [${T}, ${N}, ${R}]`);
  return { down: a, up: Float32Array.from(b, (v) => v * scale) };
}

/**
 * An Embedding's adapters (lora_A [T, V, R], lora_B [T, R, C] as stored: the roles are swapped,
 * a token's term is s A_t[id] @ B_t) in kernel layout: down [V, stride] with row v = A_0[v], ...,
 * A_{T-1}[v] then zeros up to `stride` (T R rounded up to a multiple of 4: the gather reads vec4),
 * gathered by token id like a word embedding; up [T, C, R] = scale * B_t^T.
 */
export function loraEmbeddingLayout(
  a: Float32Array,
  b: Float32Array,
  dims: { tasks: number; rank: number; vocab: number; hidden: number },
  scale: number,
): { down: Float32Array<ArrayBuffer>; up: Float32Array<ArrayBuffer>; stride: number } {
  const { tasks: T, rank: R, vocab: V, hidden: C } = dims;
  if (a.length !== T * V * R) throw new KernelShapeError(`loraEmbeddingLayout: lora_A has ${a.length} values, expected [${T}, ${V}, ${R}]`);
  if (b.length !== T * R * C) throw new KernelShapeError(`loraEmbeddingLayout: lora_B has ${b.length} values, expected [${T}, ${R}, ${C}]`);
  const stride = Math.ceil((T * R) / 4) * 4;
  const down = new Float32Array(V * stride);
  for (let t = 0; t < T; t++) {
    for (let v = 0; v < V; v++) down.set(a.subarray((t * V + v) * R, (t * V + v + 1) * R), v * stride + t * R);
  }
  const up = new Float32Array(T * C * R);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < R; j++) for (let c = 0; c < C; c++) up[(t * C + c) * R + j] = scale * b[(t * R + j) * C + c];
  }
  return { down, up, stride };
}

/** An adapted Linear on the GPU: base weight and bias as the model uploads them, plus its adapters. */
export interface LoraLinearTensors {
  weight: GPUTensor; // (N, K), f32 or f16
  bias: GPUTensor; // (N)
  down: GPUTensor; // (T R, K) f32
  up: GPUTensor; // (T, N, R) f32, scaled
}

/**
 * The dispatches of y = act(x (W + s B_t A_t)^T + bias) (+ residual) with t = tasks[m] per row:
 * z = x A_all^T; out = x W^T + bias (+ residual); out = act(out + z_t up_t^T). `base` is a bias
 * (+ residual) matmul without activation; `lora` carries the activation. With a residual the
 * activation must be 'none' (the adapted layers with residuals, out_proj and fc2, have none).
 */
export function loraLinearDispatches(
  k: { down: MatmulKernel; base: MatmulKernel; lora: LoraKernel },
  label: string,
  x: GPUTensor,
  w: LoraLinearTensors,
  z: GPUTensor,
  tasks: GPUTensor,
  out: GPUTensor,
  residual?: GPUTensor,
): Dispatch[] {
  return [
    k.down.createDispatch(`${label}.lora_down`, x, w.down, z), // (M, T R)
    k.base.createDispatch(label, x, w.weight, out, { bias: w.bias, ...(residual ? { residual } : {}) }), // (M, N)
    k.lora.createDispatch(`${label}.lora_up`, z, w.up, tasks, out), // (M, N) in place
  ];
}
