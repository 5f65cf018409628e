// Upload-time rearrangements of checkpoint weights into the layouts the kernels read: norm gains
// folded into the next matmul, GLU rows interleaved, q/k/v rows per head, rotate-half RoPE as
// adjacent pairs. Pure functions on host arrays; the architecture files call them in create().
import { KernelShapeError } from './errors';

/** W [N, K] with column k scaled by gain[k]: rmsnorm's gain moved into the following matmul. */
export function foldNormGain(w: Float32Array, gain: Float32Array): Float32Array<ArrayBuffer> {
  const K = gain.length;
  if (w.length % K !== 0) throw new KernelShapeError(`foldNormGain: ${w.length} weights are not rows of ${K}`);
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = w[i] * gain[i % K];
  return out;
}

/**
 * w12 [2F, K] (rows [0, F) gate, [F, 2F) up) -> rows gate 0, up 0, gate 1, up 1, ...: the row
 * order of a GLU matmul (MatmulEpilogue.glu). The first half is the one that goes through the
 * activation (NeoBERT's w1 rows; ModernBERT's Wi `input` half, its `gate` half second). A [2F]
 * bias is the K = 1 case (interleaveGateUpBias).
 */
export function interleaveGateUp(w12: Float32Array, K: number): Float32Array<ArrayBuffer> {
  const F = w12.length / K / 2;
  if (!Number.isInteger(F)) throw new KernelShapeError(`interleaveGateUp: ${w12.length} weights are not 2F rows of ${K}`);
  const out = new Float32Array(w12.length);
  for (let f = 0; f < F; f++) {
    out.set(w12.subarray(f * K, (f + 1) * K), 2 * f * K);
    out.set(w12.subarray((F + f) * K, (F + f + 1) * K), (2 * f + 1) * K);
  }
  return out;
}

/** bias [2F] ([0, F) first half, [F, 2F) second) -> b 0, b F, b 1, b F+1, ...: a GLU matmul's bias. */
export function interleaveGateUpBias(bias: Float32Array): Float32Array<ArrayBuffer> {
  return interleaveGateUp(bias, 1);
}

/**
 * q, k, v weights [C, K] (C = H*D output rows, nn.Linear layout; a bias is K = 1) -> [3C, K] in
 * the per-head interleaved order rope_qkv reads: rows q_h, k_h, v_h (D rows each) for h = 0..H-1.
 * For BERT's separate query/key/value, and ModernBERT's fused Wqkv ([Q|K|V] rows: its thirds).
 */
export function interleaveQkvHeads(q: Float32Array, k: Float32Array, v: Float32Array, H: number, D: number, K: number): Float32Array<ArrayBuffer> {
  const block = D * K;
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.length !== H * block) throw new KernelShapeError(`interleaveQkvHeads: ${name} has ${t.length} values, expected ${H} heads x ${D} rows x ${K}`);
  }
  const out = new Float32Array(3 * H * block);
  for (let h = 0; h < H; h++) {
    out.set(q.subarray(h * block, (h + 1) * block), (3 * h) * block);
    out.set(k.subarray(h * block, (h + 1) * block), (3 * h + 1) * block);
    out.set(v.subarray(h * block, (h + 1) * block), (3 * h + 2) * block);
  }
  return out;
}

/**
 * A q or k weight [H*D, K] (or bias, K = 1) with the rows of each head reordered so that
 * rotate-half RoPE (pairs (i, i + D/2), ModernBERT / Llama style) becomes rope_qkv's adjacent-pair
 * RoPE (pairs (2i, 2i + 1)) with the same table (ropeTable: pair i turns by position * inv_freq[i]):
 * new row 2i = old row i, new row 2i + 1 = old row i + D/2. Apply it to q and k alike (never v):
 * attention scores q.k are sums over channels, unchanged by a permutation both share.
 */
export function permuteRotateHalf(w: Float32Array, H: number, D: number, K: number): Float32Array<ArrayBuffer> {
  if (D % 2 !== 0) throw new KernelShapeError(`permuteRotateHalf: head dim ${D} must be even`);
  if (w.length !== H * D * K) throw new KernelShapeError(`permuteRotateHalf: ${w.length} values, expected ${H} heads x ${D} rows x ${K}`);
  const out = new Float32Array(w.length);
  const half = D / 2;
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < half; i++) {
      out.set(w.subarray((h * D + i) * K, (h * D + i + 1) * K), (h * D + 2 * i) * K);
      out.set(w.subarray((h * D + half + i) * K, (h * D + half + i + 1) * K), (h * D + 2 * i + 1) * K);
    }
  }
  return out;
}

/**
 * Rows of `first` then rows of `second` (same width): two Linear layers stacked into one weight,
 * e.g. a GLU's activated half and its other half in the order interleaveGateUp takes them.
 */
export function stackRows(first: Float32Array, second: Float32Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(first.length + second.length);
  out.set(first);
  out.set(second, first.length);
  return out;
}

/** w [2F, K] with its two halves swapped: rows [F, 2F) first (GTE's up_gate_proj: gate half first). */
export function swapHalves(w: Float32Array): Float32Array<ArrayBuffer> {
  if (w.length % 2 !== 0) throw new KernelShapeError(`swapHalves: ${w.length} values do not split in two halves`);
  const half = w.length / 2;
  return stackRows(w.subarray(half), w.subarray(0, half));
}
