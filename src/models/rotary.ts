// Pieces the rotary encoders (ModernBERT, NomicBERT, GTE) share: the rope_qkv layout of a fused
// [q; k; v] projection, and the kernels around rotary attention. Each architecture's forward
// stays an explicit function in its own file; only the identical logic lives here.
import { AttentionKernel, L2NormKernel, PoolingKernel, RopeQkvKernel, type GPUTensor } from '../kernels';
import type { Arithmetic } from '../capabilities';
import { interleaveQkvHeads, permuteRotateHalf } from '../weight-layout';

/**
 * Rows [q; k; v] of a fused projection (H heads of D; K = C columns for the weight, 1 for the
 * bias) -> per-head [q_h; k_h; v_h], what rope_qkv reads. Rotate-half RoPE (pairs (i, i + D/2))
 * becomes the kernel's adjacent-pair RoPE by reordering the q and k rows of each head
 * (i, i + D/2) -> (2i, 2i + 1): q.k is unchanged because q and k share the permutation.
 * `interleaved`: the checkpoint's RoPE already pairs adjacent channels, so no reorder.
 */
export function rotaryQkvRows(w: Float32Array, H: number, D: number, K: number, options: { interleaved?: boolean } = {}): Float32Array<ArrayBuffer> {
  const C = H * D;
  const [q, k, v] = [0, 1, 2].map((j) => w.subarray(j * C * K, (j + 1) * C * K));
  const rotate = (x: Float32Array) => (options.interleaved ? x : permuteRotateHalf(x, H, D, K));
  return interleaveQkvHeads(rotate(q), rotate(k), v, H, D, K);
}

/** The kernels after the qkv projection of a rotary encoder, and its pooled outputs: pass to arena.kernels with the rest. */
export function rotaryAttentionKernels(device: GPUDevice, numHeads: number, headDim: number, arithmetic: Arithmetic) {
  return {
    rope: RopeQkvKernel.create(device, numHeads, headDim, { outputDtype: arithmetic }),
    attention: AttentionKernel.create(device, numHeads, headDim, { arithmetic }),
    pooling: PoolingKernel.create(device),
    l2norm: L2NormKernel.create(device),
  };
}

/** A rotary encoder layer's attention buffers, N tokens of H heads of D (C = H D). */
export function rotaryAttentionBuffers(alloc: (label: string, shape: number[]) => GPUTensor, N: number, H: number, D: number) {
  const C = H * D;
  return {
    qkv: alloc('qkv', [N, 3 * C]), // (N, H*3*D) per-head interleaved
    q: alloc('q', [H, N, D]), // (H, N, D) after RoPE
    k: alloc('k', [H, N, D]), // (H, N, D) after RoPE
    v: alloc('v', [H, N, D]), // (H, N, D)
    attn: alloc('attention_out', [N, C]), // (N, H*D)
  };
}
